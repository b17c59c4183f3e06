package sealedfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// WriteAtomic writes data to path with mode [Mode] so that path holds
// either its old contents or all of data, never a mix, also across a
// crash: it writes and syncs a temporary file in the same directory, then
// renames it over path (o.Replace) or links it to path, which fails with
// [ErrExists] if path appeared meanwhile. With o.KeepOld the previous file
// is first linked to <path>.old. The directory is synced afterwards.
func WriteAtomic(path string, data []byte, o Options) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmpPath := tmp.Name()
	defer os.Remove(tmpPath) // after a successful rename or link, a no-op or the spare name
	err = tmp.Chmod(Mode)
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if o.KeepOld {
		if err := keepOld(path); err != nil {
			return err
		}
	}
	if o.Replace {
		err = os.Rename(tmpPath, path)
	} else {
		err = os.Link(tmpPath, path)
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("write %s: %w (replace it explicitly)", path, ErrExists)
		}
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(dir)
}

// keepOld links path's current file to path.old, atomically replacing an
// earlier .old. A missing path keeps nothing.
func keepOld(path string) error {
	old := path + ".old"
	tmpOld := old + ".tmp"
	_ = os.Remove(tmpOld)
	if err := os.Link(path, tmpOld); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("keep %s: %w", old, err)
	}
	if err := os.Rename(tmpOld, old); err != nil {
		return fmt.Errorf("keep %s: %w", old, err)
	}
	return nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
