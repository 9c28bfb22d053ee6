package volume

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/csi-blkio/csi-blkio/internal/atomicfile"
)

// ErrNotFound: no record for the ID.
var ErrNotFound = errors.New("volume not found")

// ErrInvalidID: the ID does not match IDPattern and so names no volume.
var ErrInvalidID = errors.New("invalid volume ID")

// Store keeps records and backing files in one directory:
// <dir>/<id>.json and <dir>/<id>.img. It does no locking: the driver
// serializes operations per volume ID (its in-flight set), and every write is
// an atomic rename, so a concurrent reader sees the old or the new record.
type Store struct {
	dir string
}

// NewStore opens (creating it if needed) the volumes directory under stateDir.
func NewStore(stateDir string) (*Store, error) {
	dir := filepath.Join(stateDir, "volumes")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create volume store: %w", err)
	}
	return &Store{dir: dir}, nil
}

// Dir is the directory holding records and backing files.
func (s *Store) Dir() string { return s.dir }

func (s *Store) path(id, ext string) (string, error) {
	if !ValidID(id) {
		return "", fmt.Errorf("%w %q: must match %s", ErrInvalidID, id, IDPattern)
	}
	return filepath.Join(s.dir, id+ext), nil
}

// BackingPath is the backing file of volume id.
func (s *Store) BackingPath(id string) (string, error) { return s.path(id, ".img") }

// Get reads the record of id.
func (s *Store) Get(id string) (*Record, error) {
	p, err := s.path(id, ".json")
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("read volume record: %w", err)
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("decode volume record %s: %w", p, err)
	}
	if r.ID != id {
		return nil, fmt.Errorf("volume record %s holds ID %q", p, r.ID)
	}
	return &r, nil
}

// Put writes r atomically (atomicfile.Write: a temp file <id>.json.tmp,
// fsync, rename over the old record, fsync of the directory). After a crash
// the record is the old or the new one, never a torn mix.
func (s *Store) Put(r *Record) error {
	p, err := s.path(r.ID, ".json")
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode volume record: %w", err)
	}
	if err := atomicfile.Write(p, data); err != nil {
		return fmt.Errorf("write volume record: %w", err)
	}
	return nil
}

// Delete removes the backing file, then the record. The order makes a crash
// in between harmless: the record without a file is deleted on the retry.
func (s *Store) Delete(id string) error {
	img, err := s.BackingPath(id)
	if err != nil {
		return err
	}
	if err := os.Remove(img); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove backing file: %w", err)
	}
	rec, _ := s.path(id, ".json")
	if err := os.Remove(rec); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove volume record: %w", err)
	}
	return s.syncDir()
}

// List returns every record, sorted by ID (ListVolumes pages over this order).
func (s *Store) List() ([]*Record, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list volume store: %w", err)
	}
	var out []*Record
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !ValidID(id) {
			continue
		}
		r, err := s.Get(id)
		if errors.Is(err, ErrNotFound) { // deleted meanwhile
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (s *Store) syncDir() error {
	if err := atomicfile.SyncDir(s.dir); err != nil {
		return fmt.Errorf("sync volume store: %w", err)
	}
	return nil
}
