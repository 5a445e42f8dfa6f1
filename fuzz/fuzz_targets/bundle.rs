//! Any bytes as a bundle: reading never panics, and whatever it accepts is a bundle
//! whose contents write back to a bundle that reads the same.
#![no_main]
use libfuzzer_sys::fuzz_target;
use promptops_client::bundle;

fuzz_target!(|data: &[u8]| {
    if let Ok(read) = bundle::read(data, None) {
        let again = bundle::write(&read.contents, None).expect("accepted contents write back");
        let back = bundle::read(&again, None).expect("a written bundle reads");
        assert_eq!(back.contents, read.contents);
    }
});
