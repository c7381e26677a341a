//! The worked example of `docs/integrity.md`, recomputed: the page and the code cannot disagree.

use authtrail_formats::export::Row;
use authtrail_integrity::proof::{inclusion_proof, verify_inclusion};
use authtrail_integrity::{Checkpoint, Frontier, NodeId, NoteSigner, NoteVerifier};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::leaf;

const SPEC: &str = include_str!("../../../docs/integrity.md");
const CANONICAL: &str = include_str!("../../../docs/canonical-encoding.md");

/// The body of the fenced block whose info string is `lang name`, without its last newline.
fn block(doc: &str, name: &str) -> String {
    let fence = doc.split("```").collect::<Vec<_>>();
    for part in fence.iter().skip(1).step_by(2) {
        let (info, body) = part.split_once('\n').unwrap();
        if info.split_whitespace().nth(1) == Some(name) {
            return body.strip_suffix('\n').unwrap_or(body).to_string();
        }
    }
    panic!("no block {name}");
}

#[test]
fn the_worked_example_holds() {
    let row = block(CANONICAL, "vector-input");
    let first = Row::decode(row.as_bytes())
        .unwrap()
        .into_activity()
        .unwrap();
    let mut second = first.clone();
    second.unique_qualifier = 2;
    let leaves = [leaf(&first), leaf(&second)];
    let mut f = Frontier::new();
    let mut nodes = std::collections::HashMap::new();
    for l in leaves {
        nodes.extend(f.push(l));
    }
    let seed: [u8; 32] = hex::decode(block(SPEC, "example-seed"))
        .unwrap()
        .try_into()
        .unwrap();
    let signer = NoteSigner::new(&block(SPEC, "example-origin"), &seed).unwrap();
    let cp = Checkpoint {
        origin: signer.name().to_string(),
        size: 2,
        root: f.root(),
    };
    let note = cp.sign(&signer).unwrap();
    let proof = inclusion_proof(1, 2, &mut |id: NodeId| Ok::<_, ()>(nodes[&id]))
        .unwrap()
        .unwrap();
    let got = [
        ("example-leaf-0", hex::encode(leaves[0])),
        ("example-leaf-1", hex::encode(leaves[1])),
        ("example-root", hex::encode(cp.root)),
        ("example-vkey", signer.verifier().vkey()),
        ("example-checkpoint", note.trim_end().to_string()),
        ("example-proof", B64.encode(proof[0])),
    ];
    for (name, value) in &got {
        if std::env::var("PRINT_EXAMPLE").is_ok() {
            println!("{name}\n{value}\n");
        } else {
            assert_eq!(&block(SPEC, name), value, "{name}");
        }
    }
    let v = NoteVerifier::parse(&got[3].1).unwrap();
    assert_eq!(Checkpoint::open(&note, &v).unwrap(), cp);
    verify_inclusion(&leaves[1], 1, 2, &proof, &cp.root).unwrap();
}
