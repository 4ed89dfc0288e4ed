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
    fn names() {
        assert!(valid_name("trade-1.a_b", 64));
        assert!(!valid_name("", 64));
        assert!(!valid_name("-x", 64));
        assert!(!valid_name("a b", 64));
        assert!(!valid_name("a/b", 64));
    }
}
