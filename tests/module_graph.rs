//! The library crates' module graph, read from their sources: no file cycles, and every import
//! from the module that defines the name.
//!
//! For each `.rs` file of `twofactor-core/src`, `twofactor-tower/src` and `twofactor-actix/src`
//! this test finds the paths the file names — `use` items (grouped trees, `self`, `super`,
//! aliases), paths in code (`crate::a::B::new`, `super::client::Reply`, `child::Item`) and
//! intra-doc link targets — resolves each to the file that defines the item (following `use`
//! re-exports, so `crate::web::Contract` is `web/contract.rs`, not `web/mod.rs`), and asserts:
//!
//! 1. the files of a crate import each other without a cycle, except the cycles listed in
//!    [`ALLOWED_CYCLES`];
//! 2. no file names an item through its own crate root's re-exports (the names of the
//!    `pub use` items of its `lib.rs`): `crate::phone::PhoneNumber`, never `crate::PhoneNumber`;
//! 3. an adapter never names `twofactor_core::<name>` for a name the core's root re-exports from
//!    one of its own modules: `twofactor_core::phone::PhoneNumber`, never
//!    `twofactor_core::PhoneNumber`. (Root re-exports of other crates' items, `async_trait`
//!    say, have no defining module in the core and are not counted.)
//!
//! Doc links count for 2 and 3 (a link through a re-export documents the wrong home) but make no
//! edge for 1: rustdoc resolves them, the compiler does not, and a module's docs pointing at its
//! users is no dependency. Re-exports (`pub use`, `pub(crate) use`) make no edge either: a
//! module that re-exports its children's items is their front door, not their user, and a
//! child that imports a type its parent defines is the ordinary direction. Importing a module
//! itself (`use crate::store;`) makes no edge; the items then named through it do.
//!
//! The reader is a small lexer, not a Rust parser: it skips comments, strings and doc-test code
//! blocks, tracks inline modules (`mod tests { use super::*; }`) and ignores `cfg`s, so every
//! feature's code is counted. Paths that start with another crate's name are not followed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// The library crates: their name in paths and their sources, relative to the workspace.
const CRATES: [(&str, &str); 3] = [
    ("twofactor_core", "twofactor-core/src"),
    ("twofactor_tower", "twofactor-tower/src"),
    ("twofactor_actix", "twofactor-actix/src"),
];

/// The core crate, whose root re-exports the adapters must not import.
const CORE: &str = "twofactor_core";

/// File cycles allowed, each as the set of files (relative to the workspace) of one strongly
/// connected component, with the reason beside it. A cycle belongs here only where one type's
/// impl blocks are split across files on purpose, and that module's docs must say so.
///
/// Empty: no such split makes a cycle today (`TwoFactor::layer` in tower's `manager/layer.rs`
/// and `Contract::openapi` in `web/openapi.rs` are split impls that import downwards only).
const ALLOWED_CYCLES: &[&[&str]] = &[];

#[test]
fn library_files_form_no_cycles_and_import_from_the_defining_module() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf();
    let crates: Vec<Crate> = CRATES
        .iter()
        .map(|(name, src)| Crate::read(name, &root, src))
        .collect();
    let core_names = crates
        .iter()
        .find(|c| c.name == CORE)
        .expect("the core crate")
        .own_root_reexports();

    let mut failures = String::new();
    for krate in &crates {
        krate.check_cycles(&mut failures);
        krate.check_root_imports(&mut failures);
        if krate.name != CORE {
            krate.check_core_root_imports(&core_names, &mut failures);
        }
    }
    assert!(failures.is_empty(), "module graph:\n{failures}");
}

/// The checker finds what it is for: a cycle, a root import and an adapter's core root import,
/// in sources made up for the purpose.
#[test]
fn the_checker_reports_cycles_and_root_imports() {
    let dir = std::env::temp_dir().join(format!("module-graph-{}", std::process::id()));
    let files: [(&str, &str); 5] = [
        (
            "core/lib.rs",
            "mod a;\nmod b;\npub mod c;\npub use a::A;\npub use c::{C, D as E};\n",
        ),
        (
            "core/a.rs",
            "//! See [`B`](crate::b::B).\nuse crate::b::B;\npub struct A(pub B);\n",
        ),
        (
            "core/b.rs",
            "use super::{a::A, C};\npub struct B;\nfn f(_: A) { crate::E::new(); }\n",
        ),
        (
            "core/c.rs",
            "/// Like [`A`](crate::A).\npub struct C;\npub struct D;\nmod tests { use super::*; }\n",
        ),
        (
            "adapter/lib.rs",
            "use twofactor_core::{c::C, A};\nfn f() -> twofactor_core::C { todo!() }\n",
        ),
    ];
    for (name, text) in files {
        let path = dir.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    let core = Crate::read(CORE, &dir, "core");
    let adapter = Crate::read("adapter", &dir, "adapter");
    let mut failures = String::new();
    core.check_cycles(&mut failures);
    core.check_root_imports(&mut failures);
    adapter.check_core_root_imports(&core.own_root_reexports(), &mut failures);
    fs::remove_dir_all(&dir).ok();

    for expected in [
        "cycle between core/a.rs, core/b.rs",
        "core/a.rs:2: crate::b::B -> core/b.rs",
        "core/b.rs:1: super::a::A -> core/a.rs",
        "core/b.rs:1: super::C (the root re-export C",
        "core/b.rs:3: crate::E::new (the root re-export E",
        "core/c.rs:1: crate::A (the root re-export A",
        "adapter/lib.rs:1: twofactor_core::A (the core's root re-export",
        "adapter/lib.rs:2: twofactor_core::C (the core's root re-export",
    ] {
        assert!(
            failures.contains(expected),
            "expected {expected:?} in:\n{failures}"
        );
    }
    assert!(
        !failures.contains("c::C ("),
        "the defining path was reported:\n{failures}"
    );
}

/// One crate's sources, read.
struct Crate {
    name: String,
    /// The files, relative to the directory the crate was read from.
    files: Vec<String>,
    /// Every module, file or inline, and the file it is in.
    modules: HashMap<Vec<String>, usize>,
    /// The names each module binds with `use`, and where they point.
    bindings: HashMap<Vec<String>, HashMap<String, Norm>>,
    /// The `pub use` names of `lib.rs`, and where they point.
    root_reexports: BTreeMap<String, Norm>,
    refs: Vec<Ref>,
}

/// A path, made absolute: in this crate (from its root) or in another crate.
#[derive(Clone, Debug)]
enum Norm {
    Internal(Vec<String>),
    External(Vec<String>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Use,
    /// A `pub use` or `pub(..) use`.
    Reexport,
    Code,
    Doc,
}

/// A path named somewhere in a file.
#[derive(Debug)]
struct Ref {
    file: usize,
    line: usize,
    /// The module the path is written in (inline modules included).
    scope: Vec<String>,
    /// The path as written.
    segs: Vec<String>,
    kind: Kind,
    glob: bool,
}

impl Ref {
    fn written(&self) -> String {
        let mut path = self
            .segs
            .iter()
            .filter(|s| !s.starts_with("as ") && s.as_str() != "::")
            .cloned()
            .collect::<Vec<_>>()
            .join("::");
        if self.segs.first().is_some_and(|s| s == "::") {
            path.insert_str(0, "::");
        }
        if self.glob {
            path.push_str("::*");
        }
        if let Some(alias) = self.alias() {
            let _ = write!(path, " as {alias}");
        }
        path
    }
}

/// What a path resolves to.
enum Target {
    /// A module (no file edge).
    Module(Vec<String>),
    /// An item defined in this file.
    Item(usize),
    /// Something in another crate.
    External,
}

impl Crate {
    fn read(name: &str, base: &Path, src: &str) -> Crate {
        let dir = base.join(src);
        let mut paths = Vec::new();
        collect_rs(&dir, &mut paths);
        paths.sort();
        let mut krate = Crate {
            name: name.to_owned(),
            files: Vec::new(),
            modules: HashMap::new(),
            bindings: HashMap::new(),
            root_reexports: BTreeMap::new(),
            refs: Vec::new(),
        };
        let mut uses = Vec::new();
        for (file, path) in paths.iter().enumerate() {
            let module = module_path(path.strip_prefix(&dir).expect("under src"));
            krate.modules.insert(module.clone(), file);
            krate.files.push(
                path.strip_prefix(base)
                    .expect("under the base")
                    .to_string_lossy()
                    .replace('\\', "/"),
            );
            let text = fs::read_to_string(path).expect("a readable source file");
            let found = scan(&text, &module);
            for inline in found.inline_modules {
                krate.modules.insert(inline, file);
            }
            for r in found.refs {
                if matches!(r.r.kind, Kind::Use | Kind::Reexport) {
                    uses.push((r.is_pub, krate.refs.len()));
                }
                krate.refs.push(Ref { file, ..r.r });
            }
        }
        // Bindings once every module is known, so that `use child::X` resolves.
        for (is_pub, index) in uses {
            let r = &krate.refs[index];
            if r.glob {
                continue;
            }
            let segs = r.segs_without_alias();
            let Some(bound) = r.alias().or_else(|| segs.last().cloned()) else {
                continue;
            };
            if bound == "_" {
                continue;
            }
            let Some(norm) = krate.normalize(&segs, &r.scope, false) else {
                continue;
            };
            let scope = r.scope.clone();
            if is_pub && scope.is_empty() {
                krate.root_reexports.insert(bound.clone(), norm.clone());
            }
            krate.bindings.entry(scope).or_default().insert(bound, norm);
        }
        krate
    }

    /// The root re-exports of items defined in this crate's own modules.
    fn own_root_reexports(&self) -> BTreeSet<String> {
        self.root_reexports
            .iter()
            .filter(|(_, norm)| matches!(norm, Norm::Internal(_)))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// `segs` as an absolute path, seen from `scope`. In code, a first segment must be
    /// `crate`, `self`, `super`, a child module or a name bound by `use` to be ours; in `use`
    /// items (`follow_bindings == false`) the same minus the bindings.
    fn normalize(&self, segs: &[String], scope: &[String], follow_bindings: bool) -> Option<Norm> {
        let first = segs.first()?;
        let mut out: Vec<String> = scope.to_vec();
        let mut rest = segs;
        match first.as_str() {
            "crate" => {
                out.clear();
                rest = &segs[1..];
            }
            // `use ::name::...`: another crate.
            "::" => return Some(Norm::External(segs[1..].to_vec())),
            "self" => rest = &segs[1..],
            "super" => {
                while rest.first().is_some_and(|s| s == "super") {
                    out.pop()?;
                    rest = &rest[1..];
                }
                if rest.first().is_some_and(|s| s == "self") {
                    rest = &rest[1..];
                }
            }
            _ => {
                let mut child = scope.to_vec();
                child.push(first.clone());
                if self.modules.contains_key(&child) {
                    // A child module: relative to the scope.
                } else if let Some(bound) = follow_bindings
                    .then(|| self.bindings.get(scope).and_then(|b| b.get(first)))
                    .flatten()
                {
                    return Some(match bound {
                        Norm::Internal(p) => {
                            Norm::Internal(p.iter().chain(&segs[1..]).cloned().collect())
                        }
                        Norm::External(p) => {
                            Norm::External(p.iter().chain(&segs[1..]).cloned().collect())
                        }
                    });
                } else {
                    return Some(Norm::External(segs.to_vec()));
                }
            }
        }
        out.extend(rest.iter().cloned());
        Some(Norm::Internal(out))
    }

    /// The file (or module) that defines what `path` names, following `use` re-exports.
    fn resolve(&self, path: &[String], depth: usize) -> Target {
        let mut k = path.len();
        while k > 0 && !self.modules.contains_key(&path[..k]) {
            k -= 1;
        }
        let (module, rest) = path.split_at(k);
        let Some(name) = rest.first() else {
            return Target::Module(module.to_vec());
        };
        if let Some(bound) = self.bindings.get(module).and_then(|b| b.get(name))
            && depth < 16
        {
            return match bound {
                Norm::Internal(p) => {
                    let next: Vec<String> = p.iter().chain(&rest[1..]).cloned().collect();
                    self.resolve(&next, depth + 1)
                }
                Norm::External(_) => Target::External,
            };
        }
        Target::Item(self.modules[module])
    }

    fn norm_of(&self, r: &Ref) -> Option<Norm> {
        let in_code = matches!(r.kind, Kind::Code | Kind::Doc);
        self.normalize(&r.segs_without_alias(), &r.scope, in_code)
    }

    fn check_cycles(&self, failures: &mut String) {
        let mut edges: BTreeMap<(usize, usize), Vec<String>> = BTreeMap::new();
        for r in &self.refs {
            if matches!(r.kind, Kind::Doc | Kind::Reexport) {
                continue;
            }
            let Some(Norm::Internal(path)) = self.norm_of(r) else {
                continue;
            };
            let to = match self.resolve(&path, 0) {
                Target::Item(file) => file,
                Target::Module(module) if r.glob => self.modules[&module],
                Target::Module(_) | Target::External => continue,
            };
            if to != r.file {
                edges.entry((r.file, to)).or_default().push(format!(
                    "{}:{}: {} -> {}",
                    self.files[r.file],
                    r.line,
                    r.written(),
                    self.files[to]
                ));
            }
        }
        let mut graph: Vec<Vec<usize>> = vec![Vec::new(); self.files.len()];
        for &(from, to) in edges.keys() {
            graph[from].push(to);
        }
        for component in strongly_connected(&graph) {
            if component.len() < 2 {
                continue;
            }
            let names: BTreeSet<&str> = component.iter().map(|&f| self.files[f].as_str()).collect();
            let allowed = ALLOWED_CYCLES
                .iter()
                .any(|set| set.iter().copied().collect::<BTreeSet<&str>>() == names);
            if allowed {
                continue;
            }
            let members: BTreeSet<usize> = component.iter().copied().collect();
            let _ = writeln!(
                failures,
                "cycle between {} (break it, or allowlist it in ALLOWED_CYCLES with the reason):",
                names.iter().copied().collect::<Vec<_>>().join(", ")
            );
            for ((from, to), evidence) in &edges {
                if members.contains(from) && members.contains(to) {
                    for line in evidence {
                        let _ = writeln!(failures, "    {line}");
                    }
                }
            }
        }
    }

    fn check_root_imports(&self, failures: &mut String) {
        for r in &self.refs {
            let Some(Norm::Internal(path)) = self.norm_of(r) else {
                continue;
            };
            let Some(name) = path.first() else { continue };
            if path.len() == 1 && r.kind == Kind::Reexport && r.scope.is_empty() {
                // lib.rs's own `pub use x::Name` binds the name; it does not import it.
                continue;
            }
            if r.kind == Kind::Code && !matches!(r.segs[0].as_str(), "crate" | "self" | "super") {
                // Named through a `use` binding: the `use` is the line to fix, and is reported.
                continue;
            }
            if self.modules.contains_key(&path[..1]) {
                continue;
            }
            if let Some(source) = self.root_reexports.get(name) {
                let _ = writeln!(
                    failures,
                    "{}:{}: {} (the root re-export {name}; import it from {})",
                    self.files[r.file],
                    r.line,
                    r.written(),
                    source.show(),
                );
            }
        }
    }

    fn check_core_root_imports(&self, core_names: &BTreeSet<String>, failures: &mut String) {
        for r in &self.refs {
            let Some(Norm::External(path)) = self.norm_of(r) else {
                continue;
            };
            if path.first().is_some_and(|c| c == CORE)
                && path.get(1).is_some_and(|name| core_names.contains(name))
            {
                let _ = writeln!(
                    failures,
                    "{}:{}: {} (the core's root re-export; import it from its module)",
                    self.files[r.file],
                    r.line,
                    r.written(),
                );
            }
        }
    }
}

impl Norm {
    fn show(&self) -> String {
        match self {
            Norm::Internal(p) => format!("crate::{}", p.join("::")),
            Norm::External(p) => p.join("::"),
        }
    }
}

impl Ref {
    /// `segs` ends with `as alias` folded in as the segment `"as alias"`; see [`scan`].
    fn alias(&self) -> Option<String> {
        self.segs
            .last()
            .and_then(|s| s.strip_prefix("as "))
            .map(str::to_owned)
    }

    fn segs_without_alias(&self) -> Vec<String> {
        let mut segs: Vec<String> = self
            .segs
            .iter()
            .filter(|s| !s.starts_with("as "))
            .cloned()
            .collect();
        // `use a::b::{self}` binds `b`.
        if segs.len() > 1 && segs.last().is_some_and(|s| s == "self") {
            segs.pop();
        }
        segs
    }
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `a/b.rs` and `a/b/mod.rs` are `a::b`; `lib.rs` is the root.
fn module_path(relative: &Path) -> Vec<String> {
    let mut segs: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if segs.last().is_some_and(|s| s == "mod") || segs == ["lib"] {
        segs.pop();
    }
    segs
}

/// Tarjan's strongly connected components.
fn strongly_connected(graph: &[Vec<usize>]) -> Vec<Vec<usize>> {
    struct State<'a> {
        graph: &'a [Vec<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(s: &mut State<'_>, v: usize) {
        s.index[v] = Some(s.next);
        s.low[v] = s.next;
        s.next += 1;
        s.stack.push(v);
        s.on_stack[v] = true;
        for &w in &s.graph[v] {
            match s.index[w] {
                None => {
                    visit(s, w);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(i) if s.on_stack[w] => s.low[v] = s.low[v].min(i),
                Some(_) => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            s.out.push(component);
        }
    }
    let n = graph.len();
    let mut s = State {
        graph,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if s.index[v].is_none() {
            visit(&mut s, v);
        }
    }
    s.out
}

// ---- The reader ----

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    PathSep,
    Punct(char),
}

struct Token {
    tok: Tok,
    line: usize,
}

struct Scanned {
    inline_modules: Vec<Vec<String>>,
    refs: Vec<ScannedRef>,
}

struct ScannedRef {
    r: Ref,
    is_pub: bool,
}

/// Splits `text` into tokens, dropping comments and literals, and returns the doc comments'
/// lines apart.
fn lex(text: &str) -> (Vec<Token>, Vec<(usize, String)>) {
    let c: Vec<char> = text.chars().collect();
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    let mut tokens = Vec::new();
    let mut docs = Vec::new();
    let (mut i, mut line) = (0, 1);
    let is_ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && at(i + 1) == '/' {
            let end = (i..c.len()).find(|&j| c[j] == '\n').unwrap_or(c.len());
            let comment: String = c[i..end].iter().collect();
            if (comment.starts_with("///") && !comment.starts_with("////"))
                || comment.starts_with("//!")
            {
                docs.push((line, comment[3..].to_owned()));
            }
            i = end;
        } else if ch == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if c[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if ch == '"' || (ch == 'b' && at(i + 1) == '"') {
            i += if ch == 'b' { 2 } else { 1 };
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    i += 1;
                }
                if at(i) == '\n' {
                    line += 1;
                }
                i += 1;
            }
            i += 1;
        } else if (ch == 'r' || (ch == 'b' && at(i + 1) == 'r'))
            && !(i > 0 && is_ident(c[i - 1]))
            && {
                let start = if ch == 'b' { i + 2 } else { i + 1 };
                let hashes = (start..c.len()).take_while(|&j| c[j] == '#').count();
                at(start + hashes) == '"'
            }
        {
            let start = if ch == 'b' { i + 2 } else { i + 1 };
            let hashes = (start..c.len()).take_while(|&j| c[j] == '#').count();
            i = start + hashes + 1;
            loop {
                if i >= c.len() {
                    break;
                }
                if c[i] == '"' && (1..=hashes).all(|h| at(i + h) == '#') {
                    i += 1 + hashes;
                    break;
                }
                if c[i] == '\n' {
                    line += 1;
                }
                i += 1;
            }
        } else if ch == '\'' || (ch == 'b' && at(i + 1) == '\'') {
            let q = if ch == 'b' { i + 1 } else { i };
            if at(q + 1) == '\\' {
                // An escaped character literal.
                i = q + 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(q + 2) == '\'' {
                i = q + 3;
            } else {
                // A lifetime or a label.
                i = q + 1;
                while i < c.len() && is_ident(c[i]) {
                    i += 1;
                }
            }
        } else if ch.is_ascii_digit() {
            while i < c.len() && is_ident(c[i]) {
                i += 1;
            }
        } else if is_ident(ch) {
            let start = i;
            while i < c.len() && is_ident(c[i]) {
                i += 1;
            }
            let mut word: String = c[start..i].iter().collect();
            if word == "r" && at(i) == '#' && is_ident(at(i + 1)) {
                let start = i + 1;
                i = start;
                while i < c.len() && is_ident(c[i]) {
                    i += 1;
                }
                word = c[start..i].iter().collect();
            }
            tokens.push(Token {
                tok: Tok::Ident(word),
                line,
            });
        } else if ch == ':' && at(i + 1) == ':' {
            tokens.push(Token {
                tok: Tok::PathSep,
                line,
            });
            i += 2;
        } else {
            tokens.push(Token {
                tok: Tok::Punct(ch),
                line,
            });
            i += 1;
        }
    }
    (tokens, docs)
}

/// The modules declared inline and the paths named in one file whose module is `module`.
fn scan(text: &str, module: &[String]) -> Scanned {
    let (tokens, docs) = lex(text);
    let mut out = Scanned {
        inline_modules: Vec::new(),
        refs: Vec::new(),
    };
    let ident = |i: usize| match tokens.get(i).map(|t| &t.tok) {
        Some(Tok::Ident(s)) => Some(s.as_str()),
        _ => None,
    };
    let is = |i: usize, tok: Tok| tokens.get(i).is_some_and(|t| t.tok == tok);

    let mut scopes: Vec<(Vec<String>, usize)> = vec![(module.to_vec(), 0)];
    let mut depth = 0;
    let mut pending_mod: Option<String> = None;
    let mut i = 0;
    while i < tokens.len() {
        let scope = scopes.last().expect("the file's module").0.clone();
        match &tokens[i].tok {
            Tok::Punct('{') => {
                depth += 1;
                if let Some(name) = pending_mod.take() {
                    let mut inner = scope.clone();
                    inner.push(name);
                    out.inline_modules.push(inner.clone());
                    scopes.push((inner, depth));
                }
                i += 1;
            }
            Tok::Punct('}') => {
                if scopes.len() > 1 && scopes.last().is_some_and(|s| s.1 == depth) {
                    scopes.pop();
                }
                depth -= 1;
                i += 1;
            }
            Tok::Punct(';') => {
                pending_mod = None;
                i += 1;
            }
            Tok::Ident(word) if word == "mod" && ident(i + 1).is_some() => {
                pending_mod = ident(i + 1).map(str::to_owned);
                i += 2;
            }
            Tok::Ident(word) if word == "use" && !is(i + 1, Tok::Punct('<')) => {
                let is_pub = ident(i.wrapping_sub(1)) == Some("pub");
                // `pub(crate) use`, `pub(super) use`: a re-export too, but not the crate's API.
                let reexport = is_pub
                    || (is(i.wrapping_sub(1), Tok::Punct(')'))
                        && (2..6).any(|back| {
                            is(i.wrapping_sub(back), Tok::Punct('('))
                                && ident(i.wrapping_sub(back + 1)) == Some("pub")
                        }));
                let line = tokens[i].line;
                let end = (i..tokens.len())
                    .find(|&j| is(j, Tok::Punct(';')))
                    .unwrap_or(tokens.len());
                let toks: Vec<Tok> = tokens[i + 1..end].iter().map(|t| t.tok.clone()).collect();
                let mut paths = Vec::new();
                let mut pos = 0;
                use_tree(&toks, &mut pos, Vec::new(), &mut paths);
                for (segs, glob) in paths {
                    out.refs.push(ScannedRef {
                        r: Ref {
                            file: 0,
                            line,
                            scope: scope.clone(),
                            segs,
                            kind: if reexport { Kind::Reexport } else { Kind::Use },
                            glob,
                        },
                        is_pub,
                    });
                }
                i = end;
            }
            Tok::Ident(first)
                if is(i + 1, Tok::PathSep)
                    && ident(i + 2).is_some()
                    && !(i > 0
                        && (is(i - 1, Tok::PathSep)
                            || is(i - 1, Tok::Punct('$'))
                            || is(i - 1, Tok::Punct('.')))) =>
            {
                let line = tokens[i].line;
                let mut segs = vec![first.clone()];
                let mut j = i + 1;
                while is(j, Tok::PathSep) {
                    match ident(j + 1) {
                        Some(s) => segs.push(s.to_owned()),
                        None => break,
                    }
                    j += 2;
                }
                out.refs.push(ScannedRef {
                    r: Ref {
                        file: 0,
                        line,
                        scope: scope.clone(),
                        segs,
                        kind: Kind::Code,
                        glob: false,
                    },
                    is_pub: false,
                });
                i = j;
            }
            _ => i += 1,
        }
    }

    let mut in_code_block = false;
    for (line, text) in docs {
        if text.trim_start().starts_with("```") {
            in_code_block = !in_code_block;
            continue;
        }
        if in_code_block {
            continue;
        }
        for target in doc_link_targets(&text) {
            let segs: Vec<String> = target.split("::").map(str::to_owned).collect();
            if segs.len() < 2 {
                continue;
            }
            out.refs.push(ScannedRef {
                r: Ref {
                    file: 0,
                    line,
                    scope: module.to_vec(),
                    segs,
                    kind: Kind::Doc,
                    glob: false,
                },
                is_pub: false,
            });
        }
    }
    out
}

/// The paths of a `use` tree (the tokens between `use` and `;`), each with whether it is a
/// glob. An alias is kept as a last segment `"as name"`.
fn use_tree(
    toks: &[Tok],
    pos: &mut usize,
    prefix: Vec<String>,
    out: &mut Vec<(Vec<String>, bool)>,
) {
    let mut segs = prefix;
    if toks.get(*pos) == Some(&Tok::PathSep) {
        if segs.is_empty() {
            segs.push("::".to_owned());
        }
        *pos += 1;
    }
    loop {
        match toks.get(*pos) {
            Some(Tok::Punct('{')) => {
                *pos += 1;
                loop {
                    match toks.get(*pos) {
                        None => return,
                        Some(Tok::Punct('}')) => {
                            *pos += 1;
                            return;
                        }
                        Some(Tok::Punct(',')) => *pos += 1,
                        Some(_) => {
                            let before = *pos;
                            use_tree(toks, pos, segs.clone(), out);
                            if *pos == before {
                                *pos += 1;
                            }
                        }
                    }
                }
            }
            Some(Tok::Punct('*')) => {
                *pos += 1;
                out.push((segs, true));
                return;
            }
            Some(Tok::Ident(s)) => {
                segs.push(s.clone());
                *pos += 1;
                if toks.get(*pos) == Some(&Tok::PathSep) {
                    *pos += 1;
                    continue;
                }
                if toks.get(*pos) == Some(&Tok::Ident("as".to_owned())) {
                    if let Some(Tok::Ident(alias)) = toks.get(*pos + 1) {
                        segs.push(format!("as {alias}"));
                    }
                    *pos += 2;
                }
                out.push((segs, false));
                return;
            }
            _ => return,
        }
    }
}

/// The intra-doc link targets of one doc-comment line: `[text](target)`, `` [`target`] `` and
/// `[name]: target`, with `macro@`-style prefixes and `()`/`!` suffixes taken off.
fn doc_link_targets(text: &str) -> Vec<String> {
    let mut raw = Vec::new();
    let mut rest = text;
    while let Some(k) = rest.find("](") {
        let after = &rest[k + 2..];
        if let Some(end) = after.find(')') {
            raw.push(after[..end].to_owned());
        }
        rest = after;
    }
    let mut rest = text;
    while let Some(k) = rest.find("[`") {
        let after = &rest[k + 2..];
        if let Some(end) = after.find("`]") {
            let next = after[end + 2..].chars().next();
            if next != Some('(') && next != Some('[') {
                raw.push(after[..end].to_owned());
            }
        }
        rest = after;
    }
    if let Some(k) = text
        .trim_start()
        .strip_prefix('[')
        .and_then(|t| t.find("]: "))
    {
        let t = text.trim_start();
        raw.push(t[k + 4..].trim().to_owned());
    }
    raw.into_iter()
        .filter_map(|target| {
            let target = target.trim().trim_matches('`');
            let target = target.split_once('@').map_or(target, |(_, t)| t);
            let target = target.trim_end_matches("()").trim_end_matches('!');
            let ok = !target.is_empty()
                && target
                    .split("::")
                    .all(|s| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_'));
            ok.then(|| target.to_owned())
        })
        .collect()
}
