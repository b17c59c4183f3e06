package jwtauth

// CacheLen returns how many verified tokens v caches.
func CacheLen(v *Verifier) int {
	if v.cache == nil {
		return 0
	}
	v.cache.mu.RLock()
	defer v.cache.mu.RUnlock()
	return len(v.cache.m)
}

// WaitRefreshes waits for v's background key refreshes to end.
func WaitRefreshes(v *Verifier) { v.wg.Wait() }
