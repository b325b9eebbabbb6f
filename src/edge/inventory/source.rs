//! The host as a planner's [`Source`]: the bytes of the files a plan is made
//! from, read without following symlinks, each file once, and refused when
//! it is no longer what the scan read.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::domain::model::Inventory;
use crate::domain::plan::{Expect, Source};
use crate::edge::inventory::{Links, read_file};

/// The host behind an inventory.
#[derive(Debug)]
pub struct Host<'a> {
    inventory: &'a Inventory,
    /// Every file read so far: a second read returns the first one's bytes.
    read: RefCell<BTreeMap<PathBuf, Option<Vec<u8>>>>,
}

impl<'a> Host<'a> {
    /// The host `inventory` was scanned from.
    pub fn new(inventory: &'a Inventory) -> Self {
        Self {
            inventory,
            read: RefCell::default(),
        }
    }
}

impl Source for Host<'_> {
    fn read(&self, path: &Path) -> Result<Option<Vec<u8>>, String> {
        if let Some(bytes) = self.read.borrow().get(path) {
            return Ok(bytes.clone());
        }
        let bytes = read_file(path, Links::Refuse)?.map(|(bytes, _)| bytes);
        if let Some(scanned) = self.inventory.scanned(path) {
            let found = Expect::of(bytes.as_deref());
            if found != scanned {
                return Err(format!(
                    "it changed since it was read a moment ago (then {scanned}, now {found}); run kubecred again"
                ));
            }
        }
        self.read
            .borrow_mut()
            .insert(path.to_path_buf(), bytes.clone());
        Ok(bytes)
    }

    fn expect(&self, path: &Path) -> Result<Expect, String> {
        match self.inventory.scanned(path) {
            Some(scanned) => Ok(scanned),
            None => Ok(Expect::of(self.read(path)?.as_deref())),
        }
    }
}
