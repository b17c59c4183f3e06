//go:build cgo && linux

package module

/*
#cgo LDFLAGS: -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>

static void *cp_load_deepbind(const char *path, const char **err) {
	void *h = dlopen(path, RTLD_LAZY | RTLD_LOCAL | RTLD_DEEPBIND);
	if (h == NULL) {
		*err = dlerror();
	}
	return h;
}
*/
import "C"

import (
	"errors"
	"unsafe"
)

// loadPrivately loads the library at path with its own symbols ahead of
// the process's global scope (RTLD_DEEPBIND), before miekg/pkcs11 opens it
// again (which then shares this load). Without it, a module's calls to its
// own functions can bind to a function of the same name that another
// module made global: opencryptoki 3.8 loads its token libraries with
// RTLD_GLOBAL, and its soft token's object_create then takes the place of
// tpm2-pkcs11's, so C_CreateObject on a tpm2-pkcs11 token runs
// opencryptoki's code. The handle is never closed (see the package
// documentation).
func loadPrivately(path string) error {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var cerr *C.char
	if C.cp_load_deepbind(cpath, &cerr) == nil {
		msg := "dlopen failed"
		if cerr != nil {
			msg = C.GoString(cerr)
		}
		return errors.New(msg)
	}
	return nil
}
