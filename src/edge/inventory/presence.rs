//! What is at a path, for the commands' checks before they plan: whether
//! anything is there, a folder, a folder with entries, or the same file as
//! another path. Reads no file's content.

use std::fs;
use std::path::Path;

/// Whether anything is at `path` (a symlink counts by what it points to).
pub fn exists(path: &Path) -> bool {
    path.exists()
}

/// Whether `path` is a folder (a symlink counts by what it points to).
pub fn is_folder(path: &Path) -> bool {
    path.is_dir()
}

/// Whether `path` is a folder with at least one entry.
pub fn has_entries(path: &Path) -> bool {
    fs::read_dir(path).is_ok_and(|mut entries| entries.next().is_some())
}

/// Whether `a` and `b` name one place: equal, or equal once every symlink
/// and `..` is resolved (both must exist for that).
pub fn same_place(a: &Path, b: &Path) -> bool {
    a == b || matches!((fs::canonicalize(a), fs::canonicalize(b)), (Ok(a), Ok(b)) if a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_folders_entries_and_one_place_apart() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert!(is_folder(root) && exists(root) && !has_entries(root));
        fs::write(root.join("file"), b"x").unwrap();
        assert!(has_entries(root) && exists(&root.join("file")) && !is_folder(&root.join("file")));
        assert!(!exists(&root.join("absent")) && !has_entries(&root.join("absent")));
        fs::create_dir(root.join("sub")).unwrap();
        std::os::unix::fs::symlink(root.join("sub"), root.join("link")).unwrap();
        assert!(same_place(&root.join("link"), &root.join("sub")));
        assert!(same_place(&root.join("sub/../file"), &root.join("file")));
        assert!(!same_place(&root.join("sub"), &root.join("file")));
        assert!(same_place(&root.join("absent"), &root.join("absent")));
        assert!(!same_place(&root.join("absent"), &root.join("other")));
    }
}
