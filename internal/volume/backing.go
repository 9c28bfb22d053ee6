package volume

import (
	"fmt"
	"os"
)

// CreateBacking creates (or, when a crash left one without a record,
// reuses) the sparse backing file of id with the given size. A file without
// a record was never handed to anyone, so truncating it loses nothing.
func (s *Store) CreateBacking(id string, size int64) error {
	p, err := s.BackingPath(id)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("create backing file: %w", err)
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		_ = os.Remove(p)
		return fmt.Errorf("size backing file to %d bytes: %w", size, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		_ = os.Remove(p)
		return fmt.Errorf("sync backing file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close backing file: %w", err)
	}
	return s.syncDir()
}

// GrowBacking extends the backing file of id to size; it never shrinks it.
func (s *Store) GrowBacking(id string, size int64) error {
	p, err := s.BackingPath(id)
	if err != nil {
		return err
	}
	st, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("stat backing file: %w", err)
	}
	if st.Size() >= size {
		return nil
	}
	if err := os.Truncate(p, size); err != nil {
		return fmt.Errorf("grow backing file to %d bytes: %w", size, err)
	}
	return nil
}

// ResetBacking sets the backing file of id back to size after a grow whose
// record could not be written. The caller guarantees that nothing uses the
// bytes beyond size: the record, which every consumer sizes by, says size.
func (s *Store) ResetBacking(id string, size int64) error {
	p, err := s.BackingPath(id)
	if err != nil {
		return err
	}
	if err := os.Truncate(p, size); err != nil {
		return fmt.Errorf("reset backing file to %d bytes: %w", size, err)
	}
	return nil
}
