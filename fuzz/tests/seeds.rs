//! Every fuzz target's body over its seed corpus (made from `fixtures/`), so the bodies build
//! and their properties hold in normal CI, without a fuzzer or nightly.

#[test]
fn every_target_holds_on_its_seeds() {
    for target in chatwire_fuzz::TARGETS {
        let seeds = chatwire_fuzz::seeds::seeds(target.name);
        assert!(seeds.len() >= 10, "{}: {} seeds", target.name, seeds.len());
        for seed in &seeds {
            (target.body)(seed);
        }
        // The empty input and a few cuts of each seed (cheap, and where decoders break).
        (target.body)(&[]);
        for seed in &seeds {
            for cut in [1, seed.len() / 2, seed.len().saturating_sub(1)] {
                (target.body)(&seed[..cut.min(seed.len())]);
            }
        }
        eprintln!("{}: {} seeds", target.name, seeds.len());
    }
}
