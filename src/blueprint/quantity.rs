//! Kubernetes resource quantities for CPU and memory: the forms the catalog
//! accepts, parsed to millicores and bytes so that requests can be compared
//! with limits. Stricter than Kubernetes on purpose: it refuses the forms that
//! are legal but almost always a mistake (memory `512m` is 0.512 bytes).

/// Parses a CPU quantity: millicores (`250m`) or cores (`1`, `0.5`, at most
/// three decimals). Returns millicores, or the fix to show.
pub fn cpu_millis(q: &str) -> Result<u64, String> {
    const FIX: &str = "write CPU as millicores (250m) or cores (0.5, 1, 2)";
    if let Some(m) = q.strip_suffix('m') {
        return match digits(m) {
            Some(0) => Err("CPU must be more than 0m".into()),
            Some(v) => Ok(v),
            None => Err(FIX.into()),
        };
    }
    let (whole, frac) = match q.split_once('.') {
        Some((w, f)) => (w, f),
        None => (q, ""),
    };
    if frac.len() > 3 || (q.contains('.') && frac.is_empty()) {
        return Err(format!("{FIX}; the finest step is 1m (0.001)"));
    }
    let w = digits(whole).ok_or_else(|| FIX.to_string())?;
    let f = if frac.is_empty() {
        0
    } else {
        digits(frac).ok_or_else(|| FIX.to_string())? * 10u64.pow(3 - frac.len() as u32)
    };
    match w.checked_mul(1000).and_then(|v| v.checked_add(f)) {
        Some(0) => Err("CPU must be more than 0".into()),
        Some(v) => Ok(v),
        None => Err(FIX.into()),
    }
}

/// Parses a memory quantity: a whole number with a binary (`Ki Mi Gi Ti`) or
/// decimal (`k M G T`) suffix, or none for bytes. Returns bytes, or the fix.
pub fn memory_bytes(q: &str) -> Result<u64, String> {
    const SUFFIXES: [(&str, u64); 9] = [
        ("", 1),
        ("Ki", 1 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("Ti", 1 << 40),
        ("k", 1_000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
        ("T", 1_000_000_000_000),
    ];
    let split = q.find(|c: char| !c.is_ascii_digit()).unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let Some(n) = digits(num) else {
        return Err(
            "write memory as a whole number with a suffix, e.g. 256Mi or 1Gi (1.5Gi is 1536Mi)"
                .into(),
        );
    };
    if suffix == "m" {
        return Err(format!(
            "the suffix m means milli, so this is {n}/1000 of a byte; write {n}Mi"
        ));
    }
    let Some((_, mult)) = SUFFIXES.iter().find(|(s, _)| *s == suffix) else {
        let hint = match suffix.to_ascii_lowercase().as_str() {
            "mb" | "mi" | "mib" => format!("write {n}Mi"),
            "gb" | "gi" | "gib" | "g" => format!("write {n}Gi"),
            "kb" | "ki" | "kib" | "k" => format!("write {n}Ki"),
            _ => "use one of the suffixes Ki Mi Gi Ti (binary) or k M G T (decimal)".into(),
        };
        return Err(hint);
    };
    match n.checked_mul(*mult) {
        Some(0) => Err("memory must be more than 0".into()),
        Some(v) => Ok(v),
        None => Err("the quantity is too large".into()),
    }
}

fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_forms() {
        assert_eq!(cpu_millis("250m"), Ok(250));
        assert_eq!(cpu_millis("1"), Ok(1000));
        assert_eq!(cpu_millis("0.5"), Ok(500));
        assert_eq!(cpu_millis("2.125"), Ok(2125));
        for bad in [
            "", "m", "0m", "0", "1.", ".5", "0.0005", "1 m", "100mc", "1cpu", "-1", "1e3",
        ] {
            assert!(cpu_millis(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn memory_forms() {
        assert_eq!(memory_bytes("128Mi"), Ok(128 << 20));
        assert_eq!(memory_bytes("1Gi"), Ok(1 << 30));
        assert_eq!(memory_bytes("500M"), Ok(500_000_000));
        assert_eq!(memory_bytes("1048576"), Ok(1 << 20));
        assert!(memory_bytes("512m").unwrap_err().contains("512Mi"));
        assert!(memory_bytes("512MB").unwrap_err().contains("512Mi"));
        assert!(memory_bytes("2gb").unwrap_err().contains("2Gi"));
        for bad in ["", "Mi", "1.5Gi", "0Mi", "-1Mi", "1 Gi", "1Pi"] {
            assert!(memory_bytes(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
