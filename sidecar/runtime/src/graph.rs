//! The pipeline graph of each module, as a worker's status report (`modules`)
//! and its admin port's `/status` show it.
//!
//! The rules follow upstream's `src/graph.cpp` (`Graph::to_json`,
//! `find_roots`, `build_tree`) fed the way `Status::update_modules` feeds it,
//! with the pipelines a module's `Configuration::apply` creates:
//!
//! - every pipeline of a module that no filter of the module refers to is a
//!   root: `{"name":…,"t":"root"}`, named after the pipeline: a named
//!   pipeline by its name, a listening port as `[ip]:port`, a task as
//!   `Task #n`, an exit pipeline as `Exit #n`, the entry pipeline of a module
//!   (`pipeline()` without a name) as `Module Entrance: /path`;
//! - a filter without sub-pipelines is `{"name":…,"t":"filter"}`;
//! - a filter with sub-pipelines is a joint `{"name":…,"t":"joint","st":…,
//!   "ot":…}`: `st` is `demux` or `mux` (absent for the branch kind), `ot` is
//!   `self`, `subs` or `others`; each sub-pipeline is a child
//!   `{"name":…,"t":"pipeline"}` whose children are its own filters, named
//!   after a named pipeline, `""` for an anonymous `$=>$…` one, `$=>$` for a
//!   slot never filled, and `recursive pipeline: x` (without children) for a
//!   named pipeline already among its ancestors;
//! - nodes are numbered depth first, root by root; each has `p` (its parent's
//!   number) unless it is a root and `c` (its children's numbers) when it has
//!   any; `roots` lists the roots' numbers.
//!
//! Graphs are built on a worker thread when it applies a version of the
//! codebase (never per stream) and kept until the next one.

use crate::config::{self, ConfigState};
use pipy_core::{FilterDump, Layout, OutputFrom, SubKind};
use serde_json::{json, Map, Value};
use std::sync::Mutex;

/// Deepest nesting of sub-pipelines drawn; deeper ones (only possible through
/// a cycle the recursion check misses) are cut off.
const MAX_DEPTH: usize = 256;

/// The graphs of the running version, by module path.
static GRAPHS: Mutex<Option<Map<String, Value>>> = Mutex::new(None);

/// The graph of every module of the running version, by module path:
/// `{"/main.js":{"graph":{"roots":[…],"nodes":[…]}}}`. Empty before a
/// codebase has loaded.
pub fn module_graphs() -> Map<String, Value> {
    GRAPHS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_default()
}

/// Draws the modules of the version just loaded on this thread and makes
/// them the ones [`module_graphs`] returns.
pub(crate) fn publish_current() {
    let graphs = current_graphs();
    *GRAPHS.lock().unwrap_or_else(|e| e.into_inner()) = Some(graphs);
}

/// The graphs of the modules of the version loaded last on this thread,
/// ordered by path as upstream orders them.
pub(crate) fn current_graphs() -> Map<String, Value> {
    let mut modules: Vec<(String, Value)> = pipy_js::module::current()
        .into_iter()
        .filter_map(|id| {
            let state = config::state_of(&pipy_js::module::value(id)?)?;
            let path = module_path(id);
            let graph = module_graph(&state.borrow(), &path);
            Some((path, json!({ "graph": graph })))
        })
        .collect();
    modules.sort_by(|a, b| a.0.cmp(&b.0));
    modules.into_iter().collect()
}

/// A module's path as upstream names it (in the graphs and the
/// `pipy_pipeline_count` metric): absolute in the codebase.
pub(crate) fn module_path(id: usize) -> String {
    let path = pipy_js::module::path(id).unwrap_or_default();
    format!("/{}", pipy_js::codebase::normalize(&path))
}

/// The pipeline graph of one module whose path is `path`.
pub fn module_graph(state: &ConfigState, path: &str) -> Value {
    let pipelines = top_level(state, path);
    let mut referenced: Vec<Layout> = Vec::new();
    let mut seen: Vec<Layout> = Vec::new();
    for (_, layout) in &pipelines {
        collect_references(layout, &mut seen, &mut referenced);
    }
    let mut graph = Graph::default();
    let mut roots = Vec::new();
    for (name, layout) in &pipelines {
        if referenced.iter().any(|r| r.ptr_eq(layout)) {
            continue;
        }
        let root = graph.add(None, name.clone(), NodeType::Root);
        graph.add_filters(root, layout, &mut Vec::new());
        roots.push(root);
    }
    json!({ "roots": roots, "nodes": graph.to_json() })
}

/// The pipelines a module defines itself, each with its root name, in the
/// order upstream creates them: the entry pipeline, named pipelines, listening
/// ports, tasks, exit pipelines.
fn top_level(state: &ConfigState, path: &str) -> Vec<(String, Layout)> {
    let mut out = Vec::new();
    let defined = |name: &str| state.named.get(name).filter(|l| l.is_defined()).cloned();
    if let Some(l) = defined("") {
        out.push((format!("Module Entrance: {path}"), l));
    }
    for name in state.defined_order.iter().filter(|n| !n.is_empty()) {
        if let Some(l) = defined(name) {
            out.push((name.clone(), l));
        }
    }
    for l in &state.listens {
        let name = format!("[{}]:{}", l.addr.ip(), l.addr.port());
        out.push((name, l.layout.clone()));
    }
    for (i, t) in state.tasks.iter().enumerate() {
        out.push((format!("Task #{}", i + 1), t.layout.clone()));
    }
    for (i, l) in state.exits.iter().enumerate() {
        out.push((format!("Exit #{}", i + 1), l.clone()));
    }
    out
}

/// Adds to `referenced` every layout a filter of `layout`, or of a layout it
/// leads to, refers to.
fn collect_references(layout: &Layout, seen: &mut Vec<Layout>, referenced: &mut Vec<Layout>) {
    if seen.iter().any(|l| l.ptr_eq(layout)) {
        return;
    }
    seen.push(layout.clone());
    for f in layout.dump() {
        for sub in f.subs.into_iter().flatten() {
            if !referenced.iter().any(|l| l.ptr_eq(&sub)) {
                referenced.push(sub.clone());
            }
            collect_references(&sub, seen, referenced);
        }
    }
}

/// Kinds of node (`t`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum NodeType {
    Root,
    Pipeline,
    Filter,
    Joint(SubKind, OutputFrom),
}

struct Node {
    name: String,
    kind: NodeType,
    parent: Option<usize>,
    children: Vec<usize>,
}

/// Nodes numbered in the order they are added, which is depth first.
#[derive(Default)]
struct Graph {
    nodes: Vec<Node>,
}

impl Graph {
    fn add(&mut self, parent: Option<usize>, name: String, kind: NodeType) -> usize {
        let index = self.nodes.len();
        self.nodes.push(Node {
            name,
            kind,
            parent,
            children: Vec::new(),
        });
        if let Some(p) = parent {
            self.nodes[p].children.push(index);
        }
        index
    }

    /// Adds the filters of `layout` under `parent`; `path` holds the named
    /// pipelines between the root and here, for the recursion check.
    fn add_filters(&mut self, parent: usize, layout: &Layout, path: &mut Vec<String>) {
        for f in layout.dump() {
            self.add_filter(parent, f, path);
        }
    }

    fn add_filter(&mut self, parent: usize, f: FilterDump, path: &mut Vec<String>) {
        if f.subs.is_empty() {
            self.add(Some(parent), f.name, NodeType::Filter);
            return;
        }
        let joint = self.add(Some(parent), f.name, NodeType::Joint(f.sub_kind, f.output));
        for sub in f.subs {
            let Some(layout) = sub else {
                self.add(Some(joint), "$=>$".into(), NodeType::Pipeline);
                continue;
            };
            let name = layout.name().to_string();
            if !name.is_empty() && path.contains(&name) {
                let msg = format!("recursive pipeline: {name}");
                self.add(Some(joint), msg, NodeType::Pipeline);
                continue;
            }
            if !name.is_empty() && !layout.is_defined() {
                let msg = format!("pipeline not found: {name}");
                self.add(Some(joint), msg, NodeType::Pipeline);
                continue;
            }
            let node = self.add(Some(joint), name.clone(), NodeType::Pipeline);
            if path.len() >= MAX_DEPTH {
                continue;
            }
            path.push(name);
            self.add_filters(node, &layout, path);
            path.pop();
        }
    }

    fn to_json(&self) -> Vec<Value> {
        self.nodes
            .iter()
            .map(|n| {
                let mut o = Map::new();
                o.insert("name".into(), json!(n.name));
                let t = match n.kind {
                    NodeType::Root => "root",
                    NodeType::Pipeline => "pipeline",
                    NodeType::Filter => "filter",
                    NodeType::Joint(..) => "joint",
                };
                o.insert("t".into(), json!(t));
                if let NodeType::Joint(st, ot) = n.kind {
                    match st {
                        SubKind::Branch => {}
                        SubKind::Demux => {
                            o.insert("st".into(), json!("demux"));
                        }
                        SubKind::Mux => {
                            o.insert("st".into(), json!("mux"));
                        }
                    }
                    let ot = match ot {
                        OutputFrom::Myself => "self",
                        OutputFrom::Subs => "subs",
                        OutputFrom::Others => "others",
                    };
                    o.insert("ot".into(), json!(ot));
                }
                if let Some(p) = n.parent {
                    o.insert("p".into(), json!(p));
                }
                if !n.children.is_empty() {
                    o.insert("c".into(), json!(n.children));
                }
                Value::Object(o)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipy_js::codebase::MemoryCodebase;
    use std::rc::Rc;
    use std::sync::Arc;

    /// Loads `files` (the first one is the entry) on this thread's engine and
    /// returns the graphs of its modules.
    fn graphs_of(files: &[(&str, &str)]) -> Value {
        let mut codebase = MemoryCodebase::new("test");
        for (path, src) in files {
            codebase.insert(path, src.as_bytes());
        }
        pipy_js::init_thread(pipy_js::HostHooks {
            codebase: Arc::new(codebase),
            make_configuration: config::make_configuration,
            exit: Rc::new(|_| {}),
            restart: Rc::new(|| {}),
        })
        .expect("engine");
        pipy_js::with_js(|ctx| pipy_js::module::load(files[0].0, ctx)).expect("script loads");
        Value::Object(current_graphs())
    }

    /// The graph of the entry module `/main.js` of a one-file codebase.
    fn graph_of(script: &str) -> Value {
        graphs_of(&[("/main.js", script)])["/main.js"]["graph"].clone()
    }

    #[test]
    fn listen_with_serve_http() {
        let g = graph_of("pipy().listen(8080).serveHTTP(new Message('hi'))");
        assert_eq!(
            g.to_string(),
            r#"{"roots":[0],"nodes":[{"name":"[0.0.0.0]:8080","t":"root","c":[1]},{"name":"serveHTTP","t":"filter","p":0}]}"#
        );
    }

    #[test]
    fn demux_http_with_anonymous_sub_pipelines() {
        let g = graph_of(
            "pipy().listen('127.0.0.1:8000')
               .demuxHTTP().to($=>$
                 .handleMessageStart(() => {})
                 .muxHTTP().to($=>$.connect('localhost:8081'))
               )",
        );
        assert_eq!(
            g,
            json!({"roots":[0],"nodes":[
                {"name":"[127.0.0.1]:8000","t":"root","c":[1]},
                {"name":"demuxHTTP","t":"joint","st":"demux","ot":"subs","p":0,"c":[2]},
                {"name":"","t":"pipeline","p":1,"c":[3,4]},
                {"name":"handleMessageStart","t":"filter","p":2},
                {"name":"muxHTTP","t":"joint","st":"mux","ot":"subs","p":2,"c":[5]},
                {"name":"","t":"pipeline","p":4,"c":[6]},
                {"name":"connect","t":"filter","p":5},
            ]})
        );
    }

    #[test]
    fn named_pipeline_used_by_link_is_not_a_root() {
        let g = graph_of(
            "pipy()
               .pipeline('spare').dummy()
               .listen(8080).link('upstream').print()
               .pipeline('upstream').connect('localhost:8081')",
        );
        assert_eq!(
            g,
            json!({"roots":[0,2],"nodes":[
                {"name":"spare","t":"root","c":[1]},
                {"name":"dummy","t":"filter","p":0},
                {"name":"[0.0.0.0]:8080","t":"root","c":[3,6]},
                {"name":"link","t":"joint","ot":"subs","p":2,"c":[4]},
                {"name":"upstream","t":"pipeline","p":3,"c":[5]},
                {"name":"connect","t":"filter","p":4},
                {"name":"print","t":"filter","p":2},
            ]})
        );
    }

    #[test]
    fn tasks_fork_and_hidden_hooks() {
        let g = graph_of(
            "pipy()
               .task().onStart(new Message).fork().to('log').print()
               .task('5s').onStart(new Message).dump()
               .pipeline('log').handleMessage(() => {})",
        );
        assert_eq!(
            g,
            json!({"roots":[0,5],"nodes":[
                {"name":"Task #1","t":"root","c":[1,4]},
                {"name":"fork","t":"joint","ot":"self","p":0,"c":[2]},
                {"name":"log","t":"pipeline","p":1,"c":[3]},
                {"name":"handleMessage","t":"filter","p":2},
                {"name":"print","t":"filter","p":0},
                {"name":"Task #2","t":"root","c":[6]},
                {"name":"dump","t":"filter","p":5},
            ]})
        );
    }

    #[test]
    fn recursion_and_branches() {
        let g = graph_of(
            "pipy()
               .listen(8080).link('a')
               .pipeline('a').branch(() => true, 'a', $=>$.dummy())",
        );
        assert_eq!(
            g,
            json!({"roots":[0],"nodes":[
                {"name":"[0.0.0.0]:8080","t":"root","c":[1]},
                {"name":"link","t":"joint","ot":"subs","p":0,"c":[2]},
                {"name":"a","t":"pipeline","p":1,"c":[3]},
                {"name":"branch","t":"joint","ot":"subs","p":2,"c":[4,5]},
                {"name":"recursive pipeline: a","t":"pipeline","p":3},
                {"name":"","t":"pipeline","p":3,"c":[6]},
                {"name":"dummy","t":"filter","p":5},
            ]})
        );
    }

    #[test]
    fn every_module_by_path() {
        let g = graphs_of(&[
            ("/main.js", "pipy().listen(8080).use('lib/a.js', 'in')"),
            ("/lib/a.js", "pipy().pipeline('in').dummy()"),
        ]);
        assert_eq!(
            g,
            json!({
                "/lib/a.js": {"graph": {"roots":[0],"nodes":[
                    {"name":"in","t":"root","c":[1]},
                    {"name":"dummy","t":"filter","p":0},
                ]}},
                "/main.js": {"graph": {"roots":[0],"nodes":[
                    {"name":"[0.0.0.0]:8080","t":"root","c":[1]},
                    {"name":"use","t":"filter","p":0},
                ]}},
            })
        );
        let keys: Vec<&String> = g
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["/lib/a.js", "/main.js"]);
    }
}
