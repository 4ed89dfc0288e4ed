//! Task ids: generated ones are short and sort by creation time; given ones
//! must be safe to print, to put in a file name and to pass in a variable.

use rand::Rng;

const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// A new task id: 9 base-36 digits of milliseconds since the epoch, then 4
/// random ones. Ids made later sort after ids made earlier (to the
/// millisecond) for the next few thousand years.
pub fn new_task_id() -> String {
    let mut ms = super::now_ms().max(0) as u64;
    let mut head = [b'0'; 9];
    for slot in head.iter_mut().rev() {
        *slot = ALPHABET[(ms % 36) as usize];
        ms /= 36;
    }
    let mut rng = rand::rng();
    let mut id = String::from_utf8_lossy(&head).into_owned();
    for _ in 0..4 {
        id.push(ALPHABET[rng.random_range(0..36)] as char);
    }
    id
}

/// A new idempotency key: 128 random bits in hex.
pub fn new_idempotency_key() -> String {
    format!("{:032x}", rand::rng().random::<u128>())
}

/// The task id of a job given an idempotency key and no task id: made
/// from the key (`k` and 12 hex digits of its SHA-256), so that running
/// the same command again names the same job.
pub fn task_id_for_key(key: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("k{hex}")
}

/// Whether `name` may be a task id or a group name: 1 to `max` characters of
/// letters, digits, `-`, `_`, `.`, `:` and `@`, not starting with `-`.
pub fn valid_name(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '@'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_short_valid_and_sorted() {
        let a = new_task_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_task_id();
        assert_eq!(a.len(), 13);
        assert!(valid_name(&a, 128));
        assert!(a[..9] < b[..9]);
    }

    #[test]
    fn keys_are_random_and_task_ids_from_keys_stable() {
        let (a, b) = (new_idempotency_key(), new_idempotency_key());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert_eq!(task_id_for_key("deploy-42"), task_id_for_key("deploy-42"));
        assert_ne!(task_id_for_key("deploy-42"), task_id_for_key("deploy-43"));
        assert!(valid_name(&task_id_for_key("x y"), 128));
        assert_eq!(task_id_for_key("x").len(), 13);
    }

    #[test]
    fn names() {
        assert!(valid_name("trade-1.a_b", 64));
        assert!(!valid_name("", 64));
        assert!(!valid_name("-x", 64));
        assert!(!valid_name("a b", 64));
        assert!(!valid_name("a/b", 64));
    }
}
