//! The embedding cache: reuse, partial re-encoding, corruption, model changes.

use std::sync::atomic::{AtomicBool, Ordering};

use crossrec::embed::{EmbedError, EmbeddingCache, Encoder, EncoderOptions, ModelFiles, Precision};

use crate::common::{TinySpec, max_abs_diff, tempdir, tiny_encoder, write_tiny_bert};

#[test]
fn a_second_run_encodes_nothing_and_one_changed_text_re_encodes_one() {
    let dir = tempdir();
    let encoder = tiny_encoder(dir.path(), TinySpec::default(), &EncoderOptions::default());
    let cache = EmbeddingCache::new(dir.path().join("cache"));
    let no = AtomicBool::new(false);
    let mut texts = vec![
        "coffee",
        "tea and bread",
        "hiking boots",
        "red bike",
        "coffee",
    ];
    let first = cache
        .encode(&encoder, "shop", &texts, &mut |_| {}, &no)
        .unwrap();
    assert_eq!(
        (first.encoded, first.reused),
        (4, 0),
        "the repeated text is encoded once, and nothing came from the empty cache"
    );
    let direct = encoder.encode(&texts, &mut |_| {}, &no).unwrap();
    assert!(max_abs_diff(first.embeddings.as_slice(), direct.as_slice()) < 1e-6);

    let second = cache
        .encode(&encoder, "shop", &texts, &mut |_| {}, &no)
        .unwrap();
    assert_eq!((second.encoded, second.reused), (0, 5));
    assert_eq!(second.embeddings, first.embeddings);

    texts[2] = "hiking boots and seeds";
    let third = cache
        .encode(&encoder, "shop", &texts, &mut |_| {}, &no)
        .unwrap();
    assert_eq!((third.encoded, third.reused), (1, 4));
    assert_eq!(third.embeddings.row(0), first.embeddings.row(0));
    assert_ne!(third.embeddings.row(2), first.embeddings.row(2));
}

#[test]
fn a_truncated_or_corrupt_cache_file_is_reported_and_rebuilt() {
    use sha2::Digest;
    let dir = tempdir();
    let encoder = tiny_encoder(dir.path(), TinySpec::default(), &EncoderOptions::default());
    let cache = EmbeddingCache::new(dir.path().join("cache"));
    let no = AtomicBool::new(false);
    let texts = ["coffee", "tea", "bread"];
    let first = cache
        .encode(&encoder, "k", &texts, &mut |_| {}, &no)
        .unwrap();
    let bytes = std::fs::read(&first.path).unwrap();

    std::fs::write(&first.path, &bytes[..bytes.len() - 10]).unwrap();
    let rebuilt = cache
        .encode(&encoder, "k", &texts, &mut |_| {}, &no)
        .unwrap();
    assert_eq!(rebuilt.encoded, 3);
    assert!(rebuilt.notes[0].contains("unusable") && rebuilt.notes[0].contains("rebuilding"));
    assert_eq!(rebuilt.embeddings, first.embeddings);

    // Flip one byte of a vector: the checksum catches it.
    let mut flipped = std::fs::read(&first.path).unwrap();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x40;
    std::fs::write(&first.path, &flipped).unwrap();
    let rebuilt = cache
        .encode(&encoder, "k", &texts, &mut |_| {}, &no)
        .unwrap();
    assert_eq!(rebuilt.encoded, 3);
    assert!(rebuilt.notes[0].contains("checksum"), "{:?}", rebuilt.notes);

    // A file whose checksum holds but which names one text twice (not one
    // crossrec writes) is not trusted either.
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (hashes, vectors) = (
        file.tensor("text_sha256").unwrap(),
        file.tensor("embeddings").unwrap(),
    );
    let mut hash_bytes = hashes.data().to_vec();
    let first_hash = hash_bytes[..32].to_vec();
    hash_bytes[32..64].copy_from_slice(&first_hash);
    let mut checksum = sha2::Sha256::new();
    checksum.update(&hash_bytes);
    checksum.update(vectors.data());
    let hex: String = checksum
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut metadata = header.metadata().clone().unwrap();
    metadata.insert("content_sha256".to_string(), hex);
    let views = [
        (
            "text_sha256",
            safetensors::tensor::TensorView::new(
                safetensors::Dtype::U8,
                hashes.shape().to_vec(),
                &hash_bytes,
            )
            .unwrap(),
        ),
        (
            "embeddings",
            safetensors::tensor::TensorView::new(
                safetensors::Dtype::F32,
                vectors.shape().to_vec(),
                vectors.data(),
            )
            .unwrap(),
        ),
    ];
    let doctored = safetensors::serialize(views, Some(metadata)).unwrap();
    std::fs::write(&first.path, doctored).unwrap();
    let rebuilt = cache
        .encode(&encoder, "k", &texts, &mut |_| {}, &no)
        .unwrap();
    assert_eq!(rebuilt.encoded, 3);
    assert!(
        rebuilt.notes[0].contains("holds a text hash twice"),
        "{:?}",
        rebuilt.notes
    );

    let again = cache
        .encode(&encoder, "k", &texts, &mut |_| {}, &no)
        .unwrap();
    assert_eq!(
        (again.encoded, again.notes.len()),
        (0, 0),
        "the rebuilt file is trusted"
    );
}

#[test]
fn another_model_or_setting_never_reads_the_same_vectors() {
    let dir = tempdir();
    let a = tiny_encoder(
        &dir.path().join("a"),
        TinySpec::default(),
        &EncoderOptions::default(),
    );
    let b = tiny_encoder(
        &dir.path().join("b"),
        TinySpec::default(),
        &EncoderOptions {
            max_len: Some(12),
            ..EncoderOptions::default()
        },
    );
    let c = tiny_encoder(
        &dir.path().join("c"),
        TinySpec {
            seed: 99,
            ..TinySpec::default()
        },
        &EncoderOptions::default(),
    );
    assert_ne!(a.fingerprint().unwrap(), b.fingerprint().unwrap());
    assert_ne!(a.fingerprint().unwrap(), c.fingerprint().unwrap());
    let cache = EmbeddingCache::new(dir.path().join("cache"));
    let no = AtomicBool::new(false);
    cache
        .encode(&a, "k", &["coffee"], &mut |_| {}, &no)
        .unwrap();
    let other = cache
        .encode(&c, "k", &["coffee"], &mut |_| {}, &no)
        .unwrap();
    assert_eq!(other.encoded, 1);
}

/// fp32 and int8 vectors of the same model, texts and settings live under
/// different keys: switching precision re-encodes, switching back reads
/// the first vectors unchanged.
#[test]
fn vectors_of_another_precision_are_never_read_from_the_cache() {
    let dir = tempdir();
    let model = dir.path().join("tiny-bert");
    write_tiny_bert(&model, TinySpec::default());
    let load = |precision| {
        Encoder::load(
            ModelFiles::open(&model).unwrap(),
            &EncoderOptions {
                precision,
                ..EncoderOptions::default()
            },
        )
        .unwrap()
    };
    let (exact, int8) = (load(Precision::Fp32), load(Precision::Int8));
    assert_ne!(exact.fingerprint().unwrap(), int8.fingerprint().unwrap());
    let cache = EmbeddingCache::new(dir.path().join("cache"));
    let no = AtomicBool::new(false);
    let texts = ["coffee beans", "a cast iron pan", "green tea"];
    let first = cache.encode(&exact, "k", &texts, &mut |_| {}, &no).unwrap();
    assert_eq!(first.encoded, 3);
    let quantised = cache.encode(&int8, "k", &texts, &mut |_| {}, &no).unwrap();
    assert_eq!(quantised.encoded, 3, "int8 must not reuse fp32 vectors");
    assert_ne!(quantised.embeddings.as_slice(), first.embeddings.as_slice());
    let again = cache.encode(&exact, "k", &texts, &mut |_| {}, &no).unwrap();
    assert_eq!(again.encoded, 0);
    assert_eq!(again.embeddings.as_slice(), first.embeddings.as_slice());
}

#[test]
fn a_cancelled_encode_keeps_the_finished_chunks() {
    let dir = tempdir();
    let encoder = tiny_encoder(
        dir.path(),
        TinySpec::default(),
        &EncoderOptions {
            batch_size: 512,
            ..EncoderOptions::default()
        },
    );
    let cache = EmbeddingCache::new(dir.path().join("cache"));
    let words = crate::common::WORDS;
    let texts: Vec<String> = (0..3000)
        .map(|i| {
            format!(
                "{} {} {}",
                words[i % 30],
                words[(i / 30) % 30],
                words[i / 900]
            )
        })
        .collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let cancel = AtomicBool::new(false);
    let result = cache.encode(
        &encoder,
        "k",
        &texts,
        &mut |p| {
            if p.done >= 2048 {
                cancel.store(true, Ordering::Relaxed);
            }
        },
        &cancel,
    );
    assert!(matches!(result, Err(EmbedError::Cancelled)));
    let resumed = cache
        .encode(&encoder, "k", &texts, &mut |_| {}, &AtomicBool::new(false))
        .unwrap();
    assert_eq!(resumed.reused, 2048, "the first chunk was saved on cancel");
    assert_eq!(resumed.encoded, 3000 - 2048);
}

#[test]
fn a_crash_mid_encode_keeps_what_was_checkpointed() {
    let dir = tempdir();
    let encoder = tiny_encoder(dir.path(), TinySpec::default(), &EncoderOptions::default());
    // Checkpoint after every chunk of 8 texts (the binary: every 20 s).
    let cache = EmbeddingCache::new(dir.path().join("cache"))
        .with_checkpoints(8, std::time::Duration::ZERO);
    let words = crate::common::WORDS;
    let texts: Vec<String> = (0..40)
        .map(|i| format!("{} {}", words[i % 20], words[i / 20 + 20]))
        .collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let cancel = AtomicBool::new(false);
    // The process dies (here: a panic unwinds) in the third chunk, with no
    // chance to save anything more.
    let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        cache.encode(
            &encoder,
            "crash",
            &texts,
            &mut |p| assert!(p.done < 20, "simulated crash"),
            &cancel,
        )
    }));
    assert!(crashed.is_err());
    let resumed = cache
        .encode(&encoder, "crash", &texts, &mut |_| {}, &cancel)
        .unwrap();
    assert_eq!(resumed.reused, 16, "the two checkpointed chunks survive");
    assert_eq!(resumed.encoded, 24);
    let exact = encoder.encode(&texts, &mut |_| {}, &cancel).unwrap();
    for i in 0..texts.len() {
        assert!(max_abs_diff(resumed.embeddings.row(i), exact.row(i)) < 1e-5);
    }
}
