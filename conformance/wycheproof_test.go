package conformance

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// Without network and module cache the suite must say how to get the
// vectors.
func TestWycheproofMissingSaysHowToFetch(t *testing.T) {
	_, err := locateWycheproof([]string{
		"GOPROXY=off",
		"GOMODCACHE=" + t.TempDir(),
		"GOFLAGS=-modcacherw",
	})
	require.Error(t, err)
	require.Contains(t, err.Error(), WycheproofFetchCommand)
	require.Contains(t, err.Error(), "GOPROXY=off", "the go command's own reason is kept")
	t.Log(err)
}

func TestWycheproofDirOption(t *testing.T) {
	r := &runner{cfg: defaultConfig()}
	r.cfg.wycheproofDir = t.TempDir()
	_, err := r.wycheproofDir()
	require.ErrorContains(t, err, "testvectors_v1")

	require.NoError(t, os.Mkdir(filepath.Join(r.cfg.wycheproofDir, "testvectors_v1"), 0o755))
	dir, err := r.wycheproofDir()
	require.NoError(t, err)
	require.Equal(t, r.cfg.wycheproofDir, dir)
}

func TestSelectCasesSpreadsAcrossTheFile(t *testing.T) {
	f := &wpFile{Groups: []wpGroup{{Tests: make([]wpTest, 6)}, {Tests: make([]wpTest, 4)}}}
	for gi := range f.Groups {
		for ti := range f.Groups[gi].Tests {
			f.Groups[gi].Tests[ti].ID = gi*100 + ti
		}
	}
	var ids []int
	for _, c := range selectCases(f, 5) {
		ids = append(ids, c.t.ID)
	}
	require.Equal(t, []int{0, 2, 4, 100, 102}, ids)
	require.Len(t, selectCases(f, -1), 10)
	require.Len(t, selectCases(f, 50), 10)

	groups := groupCases(selectCases(f, 5))
	require.Len(t, groups, 2)
	require.Len(t, groups[1], 2)
}
