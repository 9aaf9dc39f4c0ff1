//! UI state and what actions do to it. Data comes from the store through [`App::refresh`];
//! writes go through a [`Writes`] implementation (the engine in the binary). Drawing is in
//! [`crate::view`] and only reads this state.

use crate::action::Action;
use crate::keymap::Keymap;
use crate::respond::{self, RespondRequest, Target};
use crate::source::{LifecycleRequest, Source, SourceError, SuppressRequest};
use crate::tree::ProfileTree;
use fuzzy_matcher::skim::SkimMatcherV2;
use fuzzy_matcher::FuzzyMatcher;
use model::diff::{compare_versions, ProfileDiff};
use model::outlier::OutlierReport;
use model::LifecycleAction;
use std::collections::{HashMap, HashSet};
use store::{
    LearningProgress, NodeRow, ProfileSummary, ResponseAction, ResponseRow, SignalFilter,
    SignalRow, SnapshotDetail, SnapshotSummary, SuppressionRow,
};

/// Merged snapshots the profile screen's learning panel reads (it shows what fits).
pub const PROGRESS_LAST: usize = 120;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Images,
    Profile,
    Signals,
    Suppressions,
    /// Two versions of an image compared.
    Diff,
    /// A profile's containers ranked by how rare their behaviour is.
    Outliers,
    Responses,
    /// One snapshot's own tree (from the profile's snapshots, or a signal's window).
    Snapshot,
}

impl Screen {
    pub fn title(self) -> &'static str {
        match self {
            Screen::Images => "Images",
            Screen::Profile => "Profile",
            Screen::Signals => "Signals",
            Screen::Suppressions => "Suppressions",
            Screen::Diff => "Diff",
            Screen::Outliers => "Outliers",
            Screen::Responses => "Responses",
            Screen::Snapshot => "Snapshot",
        }
    }
}

/// Which panel of the profile screen has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileFocus {
    Tree,
    Snapshots,
    /// The profile's signals (shown in the bottom panel instead of the snapshots).
    Signals,
}

/// A fuzzy search over the current list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Search {
    pub query: String,
    /// Still typing (keys go to the query).
    pub editing: bool,
}

/// The profile being looked at.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileView {
    pub summary: ProfileSummary,
    pub tree: ProfileTree,
    pub snapshots: Vec<SnapshotSummary>,
    pub snapshot_sel: usize,
    pub focus: ProfileFocus,
    /// Signals of this image version (open).
    pub open_signals: usize,
    /// Opened from a drift signal: its novel nodes, shown in the tree beside what the
    /// profile holds (0%, marked `NEW`).
    pub novel: Vec<NodeRow>,
    /// The signals of this image version (every status), newest first.
    pub signals: Vec<SignalRow>,
    pub signal_sel: usize,
    /// Open signals per tree key: on a process row those of the process and of its
    /// activity (and of nodes below it the tree lacks); on a file/DNS/network/kernel node
    /// its own.
    pub signal_marks: HashMap<String, u32>,
    /// What its last merged snapshots brought (the learning panel).
    pub progress: Option<LearningProgress>,
}

/// The snapshot being looked at.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotView {
    pub detail: SnapshotDetail,
    pub tree: ProfileTree,
    /// Keys of the nodes it brought to the profile first.
    pub first_seen: HashSet<String>,
    /// Opened from a signal: its id and node key (marked in the tree).
    pub signal: Option<(i64, String)>,
}

/// What a confirmation prompt is about.
#[derive(Debug, Clone, PartialEq)]
pub enum PromptKind {
    Lifecycle(LifecycleAction),
    /// Undo the profile's latest lifecycle change: its id, action, who and why.
    Undo {
        id: i64,
        action: String,
        who: String,
        reason: String,
    },
}

/// A confirmation that names the profile and asks why (typed; Enter confirms, Esc
/// cancels).
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub kind: PromptKind,
    pub image: String,
    pub version: String,
    /// What the profile holds now, for the prompt's text.
    pub snapshots: u32,
    pub nodes: u32,
    pub reason: String,
    /// Why Enter did nothing (e.g. no reason given).
    pub error: String,
}

/// Two profiles compared: the one chosen (`target`) against another version of its image.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffView {
    pub diff: ProfileDiff,
    /// The profile the person chose, as (image, version).
    pub target: (String, String),
    /// The other versions of the image, oldest first; `other` is the one compared with.
    pub others: Vec<String>,
    pub other: usize,
    pub sel: usize,
}

type ProfileId = (String, String);

/// (from, to) for a profile and another version of its image: the older one first.
fn diff_pair(target: &ProfileId, other_version: &str) -> (ProfileId, ProfileId) {
    let other = (target.0.clone(), other_version.to_string());
    if compare_versions(other_version, &target.1).is_lt() {
        (other, target.clone())
    } else {
        (target.clone(), other)
    }
}

impl DiffView {
    fn pair(&self) -> (ProfileId, ProfileId) {
        diff_pair(&self.target, &self.others[self.other])
    }
}

/// The ranking of a profile's containers.
#[derive(Debug, Clone, PartialEq)]
pub struct OutliersView {
    pub report: OutlierReport,
    pub sel: usize,
}

/// Which lists to read again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reload {
    pub profiles: bool,
    pub signals: bool,
    pub suppressions: bool,
    pub responses: bool,
}

impl Reload {
    pub const ALL: Reload = Reload {
        profiles: true,
        signals: true,
        suppressions: true,
        responses: true,
    };

    /// What moved between two sets of change counters.
    pub fn between(old: &crate::changes::Counters, new: &crate::changes::Counters) -> Reload {
        Reload {
            profiles: old.profiles != new.profiles,
            signals: old.signals != new.signals,
            suppressions: old.suppressions != new.suppressions,
            responses: old.responses != new.responses,
        }
    }

    pub fn any(&self) -> bool {
        self.profiles || self.signals || self.suppressions || self.responses
    }
}

/// A question the person must answer before anything happens (freeze or thaw a
/// container): the dialog names the container and its image.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    pub request: RespondRequest,
    pub target: Target,
    /// The signal's rule and severity, when it came from one.
    pub signal: Option<(String, String)>,
}

/// Status-bar facts supplied by the binary (mode, clock, capture counters).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Banner {
    pub mode: String,
    pub clock: String,
    pub progress: String,
}

pub struct App {
    pub keymap: Keymap,
    pub screen: Screen,
    /// Screens to go back to.
    pub history: Vec<Screen>,
    pub images: Vec<ProfileSummary>,
    pub image_sel: usize,
    pub profile: Option<ProfileView>,
    pub diff: Option<DiffView>,
    pub outliers: Option<OutliersView>,
    pub snapshot: Option<SnapshotView>,
    /// A confirmation waiting for the person (promote, reset, undo of those).
    pub prompt: Option<Prompt>,
    pub signals: Vec<SignalRow>,
    pub signal_sel: usize,
    pub filter: SignalFilter,
    /// (signal id, signals, matches): what accepting that signal's suggestion would hide.
    pub preview: Option<(i64, u32, u64)>,
    pub suppressions: Vec<SuppressionRow>,
    pub suppression_sel: usize,
    /// The responses audit table, newest first.
    pub responses: Vec<ResponseRow>,
    pub response_sel: usize,
    /// The open confirmation dialog, if any; keys other than confirm and back are ignored
    /// while it is open.
    pub confirm: Option<Confirm>,
    pub search: Search,
    pub help: bool,
    pub help_scroll: usize,
    pub message: String,
    pub banner: Banner,
    pub quit: bool,
    /// Rows a page move jumps.
    pub page: usize,
    /// Who is at the keyboard (recorded on suppressions).
    pub user: String,
    /// The data's clock (simulated in demo mode); 0 means the wall clock.
    pub now_ms: i64,
}

/// A drift signal's novel nodes as tree rows: 0% (the profile never saw them), marked
/// `NEW` with their severity.
fn novel_nodes(s: &SignalRow) -> Vec<NodeRow> {
    s.drift
        .iter()
        .map(|d| NodeRow {
            key: d.node_key.clone(),
            parent: d.parent_key.clone(),
            kind: d.kind.clone(),
            label: format!("{}  NEW {}", d.label, d.severity),
            depth: d.node_key.matches('|').count() as u32,
            snapshots: 0,
            commonality: 0.0,
            access: d.access.clone(),
            args: Vec::new(),
        })
        .collect()
}

/// Open signals counted on the tree rows that show them (see [`ProfileView::signal_marks`]).
fn signal_marks(tree: &ProfileTree, signals: &[SignalRow]) -> HashMap<String, u32> {
    let keys: HashSet<&str> = tree.nodes.iter().map(|n| n.key.as_str()).collect();
    let mut marks: HashMap<String, u32> = HashMap::new();
    for s in signals.iter().filter(|s| s.status == "open") {
        let Some(owner) = tree.owner_of(&s.node_key) else {
            continue;
        };
        *marks.entry(owner.to_string()).or_default() += 1;
        if owner != s.node_key && keys.contains(s.node_key.as_str()) {
            *marks.entry(s.node_key.clone()).or_default() += 1;
        }
    }
    marks
}

/// The items `query` finds: those that hold it as written (ignoring case) when there are
/// any, otherwise the fuzzy matches. A word such as `known` or `namespace:payments` then
/// means that word, not any item whose text happens to hold its letters in order.
fn fuzzy_keep<T>(items: &[T], query: &str, text: impl Fn(&T) -> String) -> Vec<usize> {
    if query.is_empty() {
        return (0..items.len()).collect();
    }
    let texts: Vec<String> = items.iter().map(|it| text(it).to_lowercase()).collect();
    let q = query.to_lowercase();
    let exact: Vec<usize> = (0..texts.len())
        .filter(|&i| texts[i].contains(&q))
        .collect();
    if !exact.is_empty() {
        return exact;
    }
    let m = SkimMatcherV2::default().ignore_case();
    (0..texts.len())
        .filter(|&i| m.fuzzy_match(&texts[i], query).is_some())
        .collect()
}

pub fn image_text(p: &ProfileSummary) -> String {
    format!(
        "{}:{} {} {}{}",
        p.image,
        p.version,
        p.status,
        p.tags.join(" "),
        if p.digest_changed { " retagged" } else { "" }
    )
}

/// What `/` searches in the signal queue; signals with a suggestion also match `known`.
pub fn signal_text(s: &SignalRow) -> String {
    format!(
        "{} {}:{} {} {} {} {}{} {}",
        s.rule_id,
        s.image,
        s.version,
        s.process.exec_path,
        s.summary,
        s.severity,
        s.status,
        if s.suggestion.is_some() { " known" } else { "" },
        s.tags.join(" ")
    )
}

pub fn response_text(r: &ResponseRow) -> String {
    format!(
        "{} {} {}:{} {} {} {} {}",
        r.action.as_str(),
        r.container_id,
        r.image,
        r.version,
        r.who,
        r.outcome,
        r.error,
        r.reason
    )
}

pub fn suppression_text(s: &SuppressionRow) -> String {
    format!(
        "{} {} {} {}",
        s.rule_id,
        s.image,
        s.lineage.join(" "),
        s.created_by
    )
}

impl App {
    pub fn new(keymap: Keymap) -> App {
        App {
            keymap,
            screen: Screen::Images,
            history: Vec::new(),
            images: Vec::new(),
            image_sel: 0,
            profile: None,
            diff: None,
            outliers: None,
            snapshot: None,
            prompt: None,
            signals: Vec::new(),
            signal_sel: 0,
            filter: queue_filter(),
            preview: None,
            suppressions: Vec::new(),
            suppression_sel: 0,
            responses: Vec::new(),
            response_sel: 0,
            confirm: None,
            search: Search::default(),
            help: false,
            help_scroll: 0,
            message: String::new(),
            banner: Banner::default(),
            quit: false,
            page: 10,
            user: "unknown".into(),
            now_ms: 0,
        }
    }

    // ----- what is visible (search applied) -----

    pub fn visible_images(&self) -> Vec<usize> {
        let q = self.search_for(Screen::Images);
        fuzzy_keep(&self.images, q, image_text)
    }
    pub fn visible_signals(&self) -> Vec<usize> {
        let q = self.search_for(Screen::Signals);
        fuzzy_keep(&self.signals, q, signal_text)
    }
    pub fn visible_suppressions(&self) -> Vec<usize> {
        let q = self.search_for(Screen::Suppressions);
        fuzzy_keep(&self.suppressions, q, suppression_text)
    }
    /// Rows of the diff tree the search keeps (indexes into its nodes).
    pub fn visible_diff(&self) -> Vec<usize> {
        let Some(dv) = &self.diff else {
            return Vec::new();
        };
        let q = self.search_for(Screen::Diff);
        fuzzy_keep(&dv.diff.nodes, q, |n| {
            format!("{} {} {}", n.label, n.kind, n.change.as_str())
        })
    }
    /// Containers of the outlier ranking the search keeps.
    pub fn visible_outliers(&self) -> Vec<usize> {
        let Some(ov) = &self.outliers else {
            return Vec::new();
        };
        let q = self.search_for(Screen::Outliers);
        fuzzy_keep(&ov.report.containers, q, |c| {
            let nodes: Vec<&str> = c.distinguishing.iter().map(|n| n.path.as_str()).collect();
            format!(
                "{} {} {} {}",
                c.container_id,
                c.hosts.join(" "),
                c.tags.join(" "),
                nodes.join(" ")
            )
        })
    }
    pub fn selected_diff_node(&self) -> Option<&model::diff::DiffNode> {
        let dv = self.diff.as_ref()?;
        self.visible_diff().get(dv.sel).map(|&i| &dv.diff.nodes[i])
    }
    pub fn selected_outlier(&self) -> Option<&model::outlier::ContainerOutlier> {
        let ov = self.outliers.as_ref()?;
        self.visible_outliers()
            .get(ov.sel)
            .map(|&i| &ov.report.containers[i])
    }

    pub fn visible_responses(&self) -> Vec<usize> {
        let q = self.search_for(Screen::Responses);
        fuzzy_keep(&self.responses, q, response_text)
    }
    fn search_for(&self, screen: Screen) -> &str {
        if self.screen == screen {
            &self.search.query
        } else {
            ""
        }
    }

    pub fn selected_image(&self) -> Option<&ProfileSummary> {
        self.visible_images()
            .get(self.image_sel)
            .map(|&i| &self.images[i])
    }
    pub fn selected_signal(&self) -> Option<&SignalRow> {
        self.visible_signals()
            .get(self.signal_sel)
            .map(|&i| &self.signals[i])
    }
    pub fn selected_suppression(&self) -> Option<&SuppressionRow> {
        self.visible_suppressions()
            .get(self.suppression_sel)
            .map(|&i| &self.suppressions[i])
    }
    pub fn selected_response(&self) -> Option<&ResponseRow> {
        self.visible_responses()
            .get(self.response_sel)
            .map(|&i| &self.responses[i])
    }

    // ----- data -----

    /// Reload everything the current screens show.
    pub fn refresh(&mut self, src: &mut dyn Source) -> Result<(), SourceError> {
        self.refresh_changed(src, Reload::ALL)
    }

    /// Reload only the lists whose data changed (see [`crate::changes::Counters`]).
    pub fn refresh_changed(
        &mut self,
        src: &mut dyn Source,
        what: Reload,
    ) -> Result<(), SourceError> {
        let selected_image = self
            .selected_image()
            .map(|p| (p.image.clone(), p.version.clone()));
        let selected_signal = self.selected_signal().map(|s| s.id);
        let selected_sup = self.selected_suppression().map(|s| s.id);
        let selected_response = self.selected_response().map(|r| r.id);
        if what.profiles {
            self.images = src.profiles()?;
        }
        if what.signals {
            self.signals = src.signals(&self.filter)?;
        }
        if what.suppressions {
            self.suppressions = src.suppressions(true)?;
        }
        if what.responses {
            self.responses = src.responses(respond::RESPONSES_SHOWN)?;
        }
        // keep the selections on the same items
        if let Some((img, ver)) = selected_image {
            if let Some(pos) = self
                .visible_images()
                .iter()
                .position(|&i| self.images[i].image == img && self.images[i].version == ver)
            {
                self.image_sel = pos;
            }
        }
        if let Some(id) = selected_signal {
            if let Some(pos) = self
                .visible_signals()
                .iter()
                .position(|&i| self.signals[i].id == id)
            {
                self.signal_sel = pos;
            }
        }
        if let Some(id) = selected_sup {
            if let Some(pos) = self
                .visible_suppressions()
                .iter()
                .position(|&i| self.suppressions[i].id == id)
            {
                self.suppression_sel = pos;
            }
        }
        if let Some(id) = selected_response {
            if let Some(pos) = self
                .visible_responses()
                .iter()
                .position(|&i| self.responses[i].id == id)
            {
                self.response_sel = pos;
            }
        }
        self.clamp();
        if what.profiles || what.signals {
            if let Some(pv) = &self.profile {
                let (img, ver) = (pv.summary.image.clone(), pv.summary.version.clone());
                self.load_profile(src, &img, &ver)?;
            }
        }
        if what.profiles && self.screen == Screen::Diff {
            if let Some(dv) = &mut self.diff {
                let (from, to) = dv.pair();
                dv.diff =
                    src.profile_diff((&from.0, &from.1), (&to.0, &to.1), dv.diff.threshold)?;
            }
        }
        if what.profiles && self.screen == Screen::Outliers {
            if let Some(ov) = &mut self.outliers {
                let (image, version) = (ov.report.image.clone(), ov.report.version.clone());
                ov.report = src.profile_outliers(&image, &version)?;
            }
        }
        if what.profiles {
            if let Some(sv) = &mut self.snapshot {
                // commonality in the profile moves as snapshots are merged
                let detail = src.snapshot(&sv.detail.snapshot.id)?;
                sv.tree.replace_nodes(detail.nodes.clone());
                sv.first_seen = detail.first_seen_here.iter().cloned().collect();
                sv.detail = detail;
            }
        }
        if what.signals || what.suppressions {
            self.preview = None;
        }
        self.clamp();
        self.ensure_preview(src);
        Ok(())
    }

    /// Compute the accept preview of the selected signal if it is not the one computed.
    pub fn ensure_preview(&mut self, src: &mut dyn Source) {
        let want = self
            .selected_signal()
            .filter(|s| s.suggestion.is_some() && s.status == "open")
            .map(|s| s.id);
        if self.preview.map(|p| p.0) != want {
            self.preview =
                want.and_then(|id| src.preview_suppression(id).ok().map(|(n, m)| (id, n, m)));
        }
    }

    /// The preview for the selected signal, if it is current.
    pub fn current_preview(&self) -> Option<(u32, u64)> {
        let (id, n, m) = self.preview?;
        (self.selected_signal()?.id == id).then_some((n, m))
    }

    fn load_profile(
        &mut self,
        src: &mut dyn Source,
        image: &str,
        version: &str,
    ) -> Result<(), SourceError> {
        let Some(summary) = self
            .images
            .iter()
            .find(|p| p.image == image && p.version == version)
            .cloned()
        else {
            self.profile = None;
            return Ok(());
        };
        let nodes: Vec<NodeRow> = src.profile_nodes(image, version)?;
        let snapshots = src.profile_snapshots(image, version)?;
        let signals: Vec<SignalRow> = src
            .signals(&SignalFilter {
                image: Some(image.to_string()),
                ..SignalFilter::default()
            })?
            .into_iter()
            .filter(|s| s.version == version)
            .collect();
        let open_signals = signals.iter().filter(|s| s.status == "open").count();
        // the learning panel is read again only when what it counts moved
        let learned = |p: &ProfileSummary| {
            (
                p.snapshots,
                p.status.clone(),
                p.lifecycle_decision.as_ref().map(|c| c.id),
            )
        };
        let progress = match &self.profile {
            Some(pv)
                if pv.summary.image == image
                    && pv.summary.version == version
                    && learned(&pv.summary) == learned(&summary)
                    && pv.progress.is_some() =>
            {
                pv.progress.clone()
            }
            _ => Some(src.learning_progress(image, version, PROGRESS_LAST)?),
        };
        match &mut self.profile {
            Some(pv) if pv.summary.image == image && pv.summary.version == version => {
                pv.summary = summary;
                let mut nodes = nodes;
                nodes.extend(pv.novel.iter().cloned());
                pv.tree.replace_nodes(nodes);
                pv.snapshots = snapshots;
                pv.snapshot_sel = pv.snapshot_sel.min(pv.snapshots.len().saturating_sub(1));
                pv.open_signals = open_signals;
                pv.signals = signals;
                pv.signal_sel = pv.signal_sel.min(pv.signals.len().saturating_sub(1));
                pv.progress = progress;
            }
            _ => {
                self.profile = Some(ProfileView {
                    summary,
                    tree: ProfileTree::new(nodes),
                    snapshots,
                    snapshot_sel: 0,
                    focus: ProfileFocus::Tree,
                    open_signals,
                    novel: Vec::new(),
                    signals,
                    signal_sel: 0,
                    signal_marks: HashMap::new(),
                    progress,
                });
            }
        }
        if let Some(pv) = &mut self.profile {
            pv.signal_marks = signal_marks(&pv.tree, &pv.signals);
        }
        if let Some(pv) = &mut self.profile {
            pv.tree.set_query(if self.screen == Screen::Profile {
                &self.search.query
            } else {
                ""
            });
        }
        Ok(())
    }

    fn clamp(&mut self) {
        self.image_sel = self
            .image_sel
            .min(self.visible_images().len().saturating_sub(1));
        self.signal_sel = self
            .signal_sel
            .min(self.visible_signals().len().saturating_sub(1));
        self.suppression_sel = self
            .suppression_sel
            .min(self.visible_suppressions().len().saturating_sub(1));
        let n = self.visible_diff().len();
        if let Some(dv) = &mut self.diff {
            dv.sel = dv.sel.min(n.saturating_sub(1));
        }
        let n = self.visible_outliers().len();
        if let Some(ov) = &mut self.outliers {
            ov.sel = ov.sel.min(n.saturating_sub(1));
        }
        self.response_sel = self
            .response_sel
            .min(self.visible_responses().len().saturating_sub(1));
    }

    fn go(&mut self, screen: Screen) {
        if self.screen != screen {
            self.history.push(self.screen);
            self.screen = screen;
            self.search = Search::default();
            if let Some(pv) = &mut self.profile {
                pv.tree.set_query("");
            }
            if let Some(sv) = &mut self.snapshot {
                sv.tree.set_query("");
            }
        }
    }

    // ----- input -----

    /// Typing into the search line. Returns true when the key was consumed.
    pub fn search_input(&mut self, key: &crossterm::event::KeyEvent) -> bool {
        use crossterm::event::KeyCode;
        if !self.search.editing {
            return false;
        }
        match key.code {
            KeyCode::Esc => {
                self.search = Search::default();
            }
            KeyCode::Enter => self.search.editing = false,
            KeyCode::Backspace => {
                self.search.query.pop();
            }
            KeyCode::Char(c)
                if !key
                    .modifiers
                    .contains(crossterm::event::KeyModifiers::CONTROL) =>
            {
                self.search.query.push(c)
            }
            KeyCode::Down | KeyCode::Up => return false,
            _ => {}
        }
        self.after_search_change();
        true
    }

    fn after_search_change(&mut self) {
        self.image_sel = 0;
        self.signal_sel = 0;
        self.suppression_sel = 0;
        if let Some(dv) = &mut self.diff {
            dv.sel = 0;
        }
        if let Some(ov) = &mut self.outliers {
            ov.sel = 0;
        }
        self.response_sel = 0;
        if self.screen == Screen::Profile {
            if let Some(pv) = &mut self.profile {
                pv.tree.set_query(&self.search.query);
            }
        }
        if self.screen == Screen::Snapshot {
            if let Some(sv) = &mut self.snapshot {
                sv.tree.set_query(&self.search.query);
            }
        }
    }

    fn move_sel(&mut self, delta: isize) {
        fn step(sel: &mut usize, len: usize, delta: isize) {
            if len == 0 {
                *sel = 0;
                return;
            }
            let v = (*sel as isize + delta).clamp(0, len as isize - 1);
            *sel = v as usize;
        }
        if self.help {
            let v = self.help_scroll as isize + delta;
            self.help_scroll = v.max(0) as usize;
            return;
        }
        match self.screen {
            Screen::Images => {
                let n = self.visible_images().len();
                step(&mut self.image_sel, n, delta)
            }
            Screen::Signals => {
                let n = self.visible_signals().len();
                step(&mut self.signal_sel, n, delta);
            }
            Screen::Suppressions => {
                let n = self.visible_suppressions().len();
                step(&mut self.suppression_sel, n, delta)
            }
            Screen::Responses => {
                let n = self.visible_responses().len();
                step(&mut self.response_sel, n, delta)
            }
            Screen::Profile => {
                if let Some(pv) = &mut self.profile {
                    match pv.focus {
                        ProfileFocus::Tree => pv.tree.move_sel(delta),
                        ProfileFocus::Snapshots => {
                            let n = pv.snapshots.len();
                            step(&mut pv.snapshot_sel, n, delta)
                        }
                        ProfileFocus::Signals => {
                            let n = pv.signals.len();
                            step(&mut pv.signal_sel, n, delta)
                        }
                    }
                }
            }
            Screen::Diff => {
                let n = self.visible_diff().len();
                if let Some(dv) = &mut self.diff {
                    step(&mut dv.sel, n, delta)
                }
            }
            Screen::Outliers => {
                let n = self.visible_outliers().len();
                if let Some(ov) = &mut self.outliers {
                    step(&mut ov.sel, n, delta)
                }
            }
            Screen::Snapshot => {
                if let Some(sv) = &mut self.snapshot {
                    sv.tree.move_sel(delta);
                }
            }
        }
    }

    fn now(&self) -> i64 {
        if self.now_ms > 0 {
            self.now_ms
        } else {
            store::now_ms()
        }
    }

    /// Apply an action. Reads what a new screen shows from the store and writes the
    /// person's decisions (accept, reject, undo) to it.
    pub fn apply(&mut self, action: Action, src: &mut dyn Source) {
        self.message.clear();
        if self.confirm.is_some() {
            self.answer(action, src);
            return;
        }
        if self.prompt.take().is_some() {
            // a key that is not the prompt's (the mouse, a test): the prompt is cancelled
            // and the key does nothing else
            self.message = "cancelled".into();
            if action != Action::Quit {
                return;
            }
        }
        if self.help
            && !matches!(
                action,
                Action::Help | Action::Back | Action::Quit | Action::Up | Action::Down
            )
        {
            self.help = false;
        }
        match action {
            Action::Quit => self.quit = true,
            Action::Help => {
                self.help = !self.help;
                self.help_scroll = 0;
            }
            Action::Back => {
                if self.help {
                    self.help = false;
                } else if !self.search.query.is_empty() {
                    self.search = Search::default();
                    self.after_search_change();
                } else if let Some(prev) = self.history.pop() {
                    self.screen = prev;
                    if prev != Screen::Profile && !self.history.contains(&Screen::Profile) {
                        self.profile = None;
                    }
                    if prev != Screen::Snapshot && !self.history.contains(&Screen::Snapshot) {
                        self.snapshot = None;
                    }
                }
            }
            Action::Search => {
                self.search.editing = true;
            }
            Action::Down => self.move_sel(1),
            Action::Up => self.move_sel(-1),
            Action::PageDown => self.move_sel(self.page as isize),
            Action::PageUp => self.move_sel(-(self.page as isize)),
            Action::Top => self.move_sel(isize::MIN / 2),
            Action::Bottom => self.move_sel(isize::MAX / 2),
            Action::Open => self.open(src),
            Action::Toggle
            | Action::Expand
            | Action::Collapse
            | Action::ExpandAll
            | Action::CollapseAll => {
                let tree = match self.screen {
                    Screen::Profile => self.profile.as_mut().map(|p| &mut p.tree),
                    Screen::Snapshot => self.snapshot.as_mut().map(|s| &mut s.tree),
                    _ => None,
                };
                if let Some(tree) = tree {
                    match action {
                        Action::Toggle => tree.toggle(),
                        Action::Expand => tree.set_collapsed(false),
                        Action::Collapse => tree.set_collapsed(true),
                        Action::ExpandAll => tree.expand_all(),
                        _ => tree.collapse_all(),
                    }
                }
            }
            Action::FocusNext => {
                if let (Screen::Profile, Some(pv)) = (self.screen, &mut self.profile) {
                    pv.focus = match pv.focus {
                        ProfileFocus::Tree => ProfileFocus::Snapshots,
                        ProfileFocus::Snapshots => ProfileFocus::Signals,
                        ProfileFocus::Signals => ProfileFocus::Tree,
                    }
                }
            }
            Action::Images => {
                self.history.clear();
                self.screen = Screen::Images;
                self.search = Search::default();
                self.profile = None;
                self.snapshot = None;
            }
            Action::Signals => self.go(Screen::Signals),
            Action::Suppressions => self.go(Screen::Suppressions),
            Action::Responses => self.go(Screen::Responses),
            Action::Freeze => self.ask(ResponseAction::Freeze, src),
            Action::Thaw => self.ask(ResponseAction::Thaw, src),
            // nothing is asked: nothing to confirm
            Action::Confirm => {}
            Action::ViewProfile => self.view_signal_profile(src),
            Action::ViewSnapshot => self.view_snapshot(src),
            Action::Promote => self.ask_lifecycle(LifecycleAction::Promote),
            Action::ResetLearning => self.ask_lifecycle(LifecycleAction::Reset),
            Action::Accept => self.accept(src),
            Action::Reject => {
                if let Some(s) = self
                    .selected_signal()
                    .filter(|_| self.screen == Screen::Signals)
                {
                    let id = s.id;
                    match src.reject_signal(id, &self.user) {
                        Ok(()) => {
                            self.message =
                                format!("signal {id} kept as a finding (suggestion rejected)")
                        }
                        Err(e) => self.message = e.to_string(),
                    }
                    self.reload(src);
                }
            }
            Action::Undo if matches!(self.screen, Screen::Images | Screen::Profile) => {
                self.ask_undo_lifecycle()
            }
            Action::Undo => {
                if let Some(s) = self
                    .selected_suppression()
                    .filter(|_| self.screen == Screen::Suppressions)
                {
                    let id = s.id;
                    let now = self.now();
                    let user = self.user.clone();
                    match src.unsuppress(id, &user, now) {
                        Ok(_) => {
                            self.message =
                                format!("suppression {id} undone; its signals are open again")
                        }
                        Err(e) => self.message = e.to_string(),
                    }
                    self.reload(src);
                }
            }
            Action::FilterStatus => {
                if self.screen == Screen::Signals {
                    self.filter.status = match self.filter.status.as_deref() {
                        None => Some("open".into()),
                        Some("open") => Some("suppressed".into()),
                        Some("suppressed") => Some("rejected".into()),
                        _ => None,
                    };
                    self.signal_sel = 0;
                    self.reload(src);
                }
            }
            Action::FilterImage => {
                if self.screen == Screen::Signals {
                    self.filter.image = match (&self.filter.image, self.selected_signal()) {
                        (Some(_), _) => None,
                        (None, Some(s)) => Some(s.image.clone()),
                        (None, None) => None,
                    };
                    self.signal_sel = 0;
                    self.reload(src);
                }
            }
            Action::FilterRule => {
                if self.screen == Screen::Signals {
                    self.filter.rule = match (&self.filter.rule, self.selected_signal()) {
                        (Some(_), _) => None,
                        (None, Some(s)) => Some(s.rule_id.clone()),
                        (None, None) => None,
                    };
                    self.signal_sel = 0;
                    self.reload(src);
                }
            }
            Action::Diff => self.diff_action(src),
            Action::Outliers => self.open_outliers(src),
            Action::ClearFilters => {
                if self.screen == Screen::Signals {
                    self.filter = queue_filter();
                    self.reload(src);
                }
            }
        }
        self.ensure_preview(src);
    }

    fn reload(&mut self, src: &mut dyn Source) {
        if let Err(e) = self.refresh(src) {
            self.message = format!("reading the store failed: {e}");
        }
    }

    fn open(&mut self, src: &mut dyn Source) {
        match self.screen {
            Screen::Images => {
                if let Some(p) = self.selected_image() {
                    let (img, ver) = (p.image.clone(), p.version.clone());
                    self.open_profile(src, &img, &ver);
                }
            }
            Screen::Profile => match self.profile.as_ref().map(|p| p.focus) {
                Some(ProfileFocus::Snapshots) => self.view_snapshot(src),
                Some(ProfileFocus::Signals) => {
                    // the signal's node in the tree
                    if let Some(pv) = &mut self.profile {
                        if let Some(key) = pv.signals.get(pv.signal_sel).map(|s| s.node_key.clone())
                        {
                            pv.tree.select_key(&key);
                            pv.focus = ProfileFocus::Tree;
                        }
                    }
                }
                _ => {
                    if let Some(pv) = &mut self.profile {
                        pv.tree.toggle();
                    }
                }
            },
            Screen::Signals => self.view_signal_profile(src),
            Screen::Suppressions | Screen::Outliers | Screen::Responses => {}
            Screen::Snapshot => {
                if let Some(sv) = &mut self.snapshot {
                    sv.tree.toggle();
                }
            }
            Screen::Diff => {
                // the profile that holds the node (the newer one where both do), at it
                let Some((n, dv)) = self.selected_diff_node().zip(self.diff.as_ref()) else {
                    return;
                };
                let side = if n.after.is_some() {
                    &dv.diff.to
                } else {
                    &dv.diff.from
                };
                let (img, ver, key) = (side.image.clone(), side.version.clone(), n.key.clone());
                self.open_profile(src, &img, &ver);
                if let Some(pv) = &mut self.profile {
                    pv.tree.select_key(&key);
                }
            }
        }
    }

    /// `d`: on the images screen, compare the selected profile with the previous version
    /// of its image (the next one when it is the first); on the diff screen, compare with
    /// the next other version.
    fn diff_action(&mut self, src: &mut dyn Source) {
        match self.screen {
            Screen::Images => {
                let Some(p) = self.selected_image() else {
                    return;
                };
                let target = (p.image.clone(), p.version.clone());
                let mut others: Vec<String> = self
                    .images
                    .iter()
                    .filter(|q| q.image == target.0 && q.version != target.1)
                    .map(|q| q.version.clone())
                    .collect();
                if others.is_empty() {
                    self.message = format!(
                        "{} has one version: there is no other to compare {}:{} with",
                        target.0, target.0, target.1
                    );
                    return;
                }
                others.sort_by(|a, b| compare_versions(a, b));
                // the newest older version, else the oldest newer one
                let other = others
                    .iter()
                    .rposition(|v| compare_versions(v, &target.1).is_lt())
                    .unwrap_or(0);
                self.show_diff(src, target, others, other);
            }
            Screen::Diff => {
                let Some(dv) = &self.diff else { return };
                if dv.others.len() < 2 {
                    self.message = format!("{} has no other version to compare with", dv.target.0);
                    return;
                }
                let (target, others) = (dv.target.clone(), dv.others.clone());
                let next = (dv.other + 1) % others.len();
                self.show_diff(src, target, others, next);
            }
            _ => {}
        }
    }

    fn show_diff(
        &mut self,
        src: &mut dyn Source,
        target: (String, String),
        others: Vec<String>,
        other: usize,
    ) {
        let (from, to) = diff_pair(&target, &others[other]);
        let threshold = self
            .diff
            .as_ref()
            .map_or(model::diff::DEFAULT_THRESHOLD, |d| d.diff.threshold);
        match src.profile_diff((&from.0, &from.1), (&to.0, &to.1), threshold) {
            Ok(diff) => {
                self.diff = Some(DiffView {
                    diff,
                    target,
                    others,
                    other,
                    sel: 0,
                });
                self.go(Screen::Diff);
                self.search = Search::default();
            }
            Err(e) => {
                self.message = format!("cannot compare {}:{} with {}: {e}", from.0, from.1, to.1)
            }
        }
    }

    /// `O`: the outlier containers of the profile shown (or selected on the images screen).
    fn open_outliers(&mut self, src: &mut dyn Source) {
        let which = match self.screen {
            Screen::Profile => self
                .profile
                .as_ref()
                .map(|pv| (pv.summary.image.clone(), pv.summary.version.clone())),
            Screen::Images => self
                .selected_image()
                .map(|p| (p.image.clone(), p.version.clone())),
            _ => None,
        };
        let Some((image, version)) = which else {
            return;
        };
        match src.profile_outliers(&image, &version) {
            Ok(report) => {
                self.outliers = Some(OutliersView { report, sel: 0 });
                self.go(Screen::Outliers);
            }
            Err(e) => {
                self.message = format!("cannot rank the containers of {image}:{version}: {e}")
            }
        }
    }

    /// `view_snapshot`: the snapshot a signal happened in (signal queue, the profile's
    /// signals panel), or the one selected in the profile's snapshots panel.
    fn view_snapshot(&mut self, src: &mut dyn Source) {
        let signal = match self.screen {
            Screen::Signals => self.selected_signal().map(|s| (s.id, s.node_key.clone())),
            Screen::Profile => match &self.profile {
                Some(pv) if pv.focus == ProfileFocus::Signals => pv
                    .signals
                    .get(pv.signal_sel)
                    .map(|s| (s.id, s.node_key.clone())),
                Some(pv) => {
                    if let Some(id) = pv.snapshots.get(pv.snapshot_sel).map(|s| s.id.clone()) {
                        self.open_snapshot(src, &id, None);
                    }
                    return;
                }
                None => None,
            },
            _ => None,
        };
        let Some((id, node)) = signal else { return };
        match src.signal_snapshots(id) {
            Ok(windows) => match windows.first() {
                Some(w) => {
                    let sid = w.id.clone();
                    self.open_snapshot(src, &sid, Some((id, node)));
                }
                None => {
                    self.message = format!(
                        "signal {id}: no snapshot was stored for the window it happened in (its container had no profiling slot, or the window is still open)"
                    )
                }
            },
            Err(e) => self.message = e.to_string(),
        }
    }

    /// Open one snapshot's own tree; from a signal, with its node selected and marked.
    pub fn open_snapshot(&mut self, src: &mut dyn Source, id: &str, signal: Option<(i64, String)>) {
        let detail = match src.snapshot(id) {
            Ok(d) => d,
            Err(e) => {
                self.message = format!("cannot load snapshot {id}: {e}");
                return;
            }
        };
        let mut tree = ProfileTree::new(detail.nodes.clone());
        if let Some((_, key)) = &signal {
            tree.select_key(key);
        }
        self.snapshot = Some(SnapshotView {
            first_seen: detail.first_seen_here.iter().cloned().collect(),
            detail,
            tree,
            signal,
        });
        self.go(Screen::Snapshot);
    }

    /// The profile the lifecycle keys act on: the selected image, or the open profile.
    fn lifecycle_target(&self) -> Option<&ProfileSummary> {
        match self.screen {
            Screen::Images => self.selected_image(),
            Screen::Profile => self.profile.as_ref().map(|p| &p.summary),
            _ => None,
        }
    }

    /// `promote` / `reset_learning`: ask for a confirmation naming the profile, and why.
    fn ask_lifecycle(&mut self, action: LifecycleAction) {
        let Some(p) = self.lifecycle_target() else {
            return;
        };
        let name = format!("{}:{}", p.image, p.version);
        let refusal = match action {
            LifecycleAction::Promote if p.status == "stable" => {
                Some(format!("profile {name} is already Stable"))
            }
            LifecycleAction::Reset if p.status == "learning" && p.snapshots == 0 => Some(format!(
                "profile {name} has merged no snapshot since it started learning: nothing to reset"
            )),
            _ => None,
        };
        if let Some(r) = refusal {
            self.message = r;
            return;
        }
        self.prompt = Some(Prompt {
            kind: PromptKind::Lifecycle(action),
            image: p.image.clone(),
            version: p.version.clone(),
            snapshots: p.snapshots,
            nodes: p.nodes,
            reason: String::new(),
            error: String::new(),
        });
    }

    /// `undo` on the images or profile screen: the profile's latest promote or reset.
    fn ask_undo_lifecycle(&mut self) {
        let Some(p) = self.lifecycle_target() else {
            return;
        };
        let Some(c) = &p.lifecycle_decision else {
            self.message = format!(
                "profile {}:{}: no promote or reset to undo",
                p.image, p.version
            );
            return;
        };
        self.prompt = Some(Prompt {
            kind: PromptKind::Undo {
                id: c.id,
                action: c.action.clone(),
                who: c.who.clone(),
                reason: c.reason.clone(),
            },
            image: p.image.clone(),
            version: p.version.clone(),
            snapshots: p.snapshots,
            nodes: p.nodes,
            reason: String::new(),
            error: String::new(),
        });
    }

    /// Typing into an open confirmation prompt: characters make the reason, Enter
    /// confirms, Esc cancels. Returns true when the key was the prompt's.
    pub fn prompt_input(&mut self, key: &crossterm::event::KeyEvent, src: &mut dyn Source) -> bool {
        use crossterm::event::{KeyCode, KeyModifiers};
        let Some(prompt) = &mut self.prompt else {
            return false;
        };
        match key.code {
            KeyCode::Esc => {
                self.prompt = None;
                self.message = "cancelled".into();
            }
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.prompt = None;
                self.message = "cancelled".into();
            }
            KeyCode::Backspace => {
                prompt.reason.pop();
                prompt.error.clear();
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                prompt.reason.push(c);
                prompt.error.clear();
            }
            KeyCode::Enter => self.confirm_prompt(src),
            _ => {}
        }
        true
    }

    fn confirm_prompt(&mut self, src: &mut dyn Source) {
        let Some(p) = self.prompt.clone() else { return };
        let name = format!("{}:{}", p.image, p.version);
        let reason = p.reason.trim().to_string();
        let (user, now) = (self.user.clone(), self.now());
        let done = match &p.kind {
            PromptKind::Lifecycle(action) => {
                if reason.is_empty() {
                    if let Some(open) = &mut self.prompt {
                        open.error = "type why first (it is kept in the audit trail)".into();
                    }
                    return;
                }
                let req = LifecycleRequest {
                    image: p.image.clone(),
                    version: p.version.clone(),
                    action: *action,
                    reason,
                };
                src.change_lifecycle(&req, &user, now).map(|c| match action {
                    LifecycleAction::Promote => format!(
                        "{name} promoted to Stable ({} snapshots); u undoes",
                        c.snapshots_before
                    ),
                    LifecycleAction::Reset => format!(
                        "{name} reset to Learning: learns again from its next snapshot; {} nodes archived; u undoes",
                        c.archived_nodes
                    ),
                })
            }
            PromptKind::Undo { .. } => src
                .undo_lifecycle(&p.image, &p.version, &reason, &user, now)
                .map(|c| format!("{} #{} of {name} undone", c.action, c.id)),
        };
        self.prompt = None;
        match done {
            Ok(m) => self.message = m,
            Err(e) => self.message = e.to_string(),
        }
        self.reload(src);
    }

    /// Open the profile of the selected signal at the signal's process.
    fn view_signal_profile(&mut self, src: &mut dyn Source) {
        let Some(s) = self
            .selected_signal()
            .filter(|_| self.screen == Screen::Signals)
        else {
            return;
        };
        let (img, ver, node) = (s.image.clone(), s.version.clone(), s.node_key.clone());
        let novel = novel_nodes(s);
        let first_novel = novel.first().map(|n| n.key.clone());
        self.open_profile(src, &img, &ver);
        if let Some(pv) = &mut self.profile {
            if !novel.is_empty() {
                // the drift beside the profile: its novel nodes in the same tree
                let mut nodes = pv.tree.nodes.clone();
                nodes.extend(novel.iter().cloned());
                pv.novel = novel;
                pv.tree.replace_nodes(nodes);
                pv.tree.expand_all();
                pv.signal_marks = signal_marks(&pv.tree, &pv.signals);
            }
            pv.tree.select_key(first_novel.as_deref().unwrap_or(&node));
        }
    }

    pub fn open_profile(&mut self, src: &mut dyn Source, image: &str, version: &str) {
        self.go(Screen::Profile);
        self.profile = None;
        if let Err(e) = self.load_profile(src, image, version) {
            self.message = format!("cannot load profile {image}:{version}: {e}");
        }
    }

    fn accept(&mut self, src: &mut dyn Source) {
        if self.screen != Screen::Signals {
            return;
        }
        let Some(s) = self.selected_signal() else {
            return;
        };
        if s.status != "open" {
            self.message = format!("signal {} is {}, not open", s.id, s.status);
            return;
        }
        let Some(sug) = &s.suggestion else {
            self.message = match &s.suggestion_block {
                Some(b) => format!("no suggestion for signal {}: {b}", s.id),
                None => format!(
                    "no suggestion for signal {}: its behaviour is not common in {}:{}",
                    s.id, s.image, s.version
                ),
            };
            return;
        };
        let reason = sug.text();
        let id = s.id;
        let (user, now) = (self.user.clone(), self.now());
        let req = SuppressRequest {
            signal_id: id,
            reason,
            expires_ms: None,
            force: false,
            scope: None,
        };
        match src.suppress(&req, &user, now) {
            Ok(sup) => {
                self.message = format!(
                    "suppression {} added to rule {} for {}; {} signal(s) hidden",
                    sup.id, sup.rule_id, sup.image, sup.hidden
                )
            }
            Err(e) => self.message = e.to_string(),
        }
        self.reload(src);
    }

    /// Freeze or thaw: find the container meant (the selected signal's; on the responses
    /// screen the selected row's) and ask first. Nothing happens until it is confirmed.
    fn ask(&mut self, action: ResponseAction, src: &mut dyn Source) {
        let (request, signal) = match self.screen {
            Screen::Signals => {
                let Some(s) = self.selected_signal() else {
                    return;
                };
                (
                    RespondRequest {
                        action,
                        signal_id: Some(s.id),
                        container: None,
                        reason: String::new(),
                    },
                    Some((s.rule_id.clone(), s.severity.clone())),
                )
            }
            Screen::Responses if action == ResponseAction::Thaw => {
                let Some(r) = self.selected_response() else {
                    return;
                };
                (
                    RespondRequest {
                        action,
                        signal_id: None,
                        container: Some(r.container_id.clone()),
                        reason: format!("thaw after response {}", r.id),
                    },
                    None,
                )
            }
            _ => {
                self.message = format!(
                    "{} works on the signal queue{}",
                    action.as_str(),
                    if action == ResponseAction::Thaw {
                        " and the responses screen"
                    } else {
                        ""
                    }
                );
                return;
            }
        };
        match respond::target(src, &request) {
            Ok(target) => {
                self.confirm = Some(Confirm {
                    request,
                    target,
                    signal,
                })
            }
            Err(e) => self.message = e.to_string(),
        }
    }

    /// A key while the confirmation dialog is open: confirm runs it, back cancels, quit
    /// quits; anything else leaves the question open.
    fn answer(&mut self, action: Action, src: &mut dyn Source) {
        match action {
            Action::Confirm => {
                let Some(c) = self.confirm.take() else {
                    return;
                };
                let (user, now) = (self.user.clone(), self.now());
                self.message = match src.respond(&c.request, &user, now) {
                    Ok(r) => respond::done_text(&r),
                    Err(e) => e.to_string(),
                };
                self.reload(src);
            }
            Action::Back => {
                if let Some(c) = self.confirm.take() {
                    self.message = format!(
                        "{} cancelled: {} left as it was",
                        c.request.action.as_str(),
                        c.target.describe()
                    );
                }
            }
            Action::Quit => self.quit = true,
            _ => {
                self.message = format!(
                    "answer first: {} {}, {} cancels",
                    self.keymap
                        .keys_for(Action::Confirm)
                        .split(", ")
                        .next()
                        .unwrap_or(""),
                    self.confirm
                        .as_ref()
                        .map_or("confirm", |c| c.request.action.as_str()),
                    self.keymap
                        .keys_for(Action::Back)
                        .split(", ")
                        .next()
                        .unwrap_or("")
                );
            }
        }
    }

    /// Map a click at row `y` of the main list (0 = first data row) to a selection.
    pub fn click_row(&mut self, row: usize) {
        match self.screen {
            Screen::Images => {
                if row < self.visible_images().len() {
                    self.image_sel = row
                }
            }
            Screen::Signals => {
                if row < self.visible_signals().len() {
                    self.signal_sel = row;
                }
            }
            Screen::Suppressions => {
                if row < self.visible_suppressions().len() {
                    self.suppression_sel = row
                }
            }
            Screen::Responses => {
                if row < self.visible_responses().len() {
                    self.response_sel = row
                }
            }
            Screen::Profile => {
                if let Some(pv) = &mut self.profile {
                    pv.tree.select_row(row);
                }
            }
            Screen::Diff => {
                let n = self.visible_diff().len();
                if let Some(dv) = self.diff.as_mut().filter(|_| row < n) {
                    dv.sel = row;
                }
            }
            Screen::Outliers => {
                let n = self.visible_outliers().len();
                if let Some(ov) = self.outliers.as_mut().filter(|_| row < n) {
                    ov.sel = row;
                }
            }
            Screen::Snapshot => {
                if let Some(sv) = &mut self.snapshot {
                    sv.tree.select_row(row);
                }
            }
        }
    }
}

/// Signals the queue screen loads at most: the newest, filters applied first. A store of a
/// million signals is not read whole on every refresh (a page of 1,000 of 1,000,000 reads in
/// tens of milliseconds, the whole list in seconds: BENCHMARKS.md); the title says when the
/// queue holds more.
pub const QUEUE_PAGE: usize = 1000;

/// The queue's filter before a person narrows it: everything, newest [`QUEUE_PAGE`].
pub fn queue_filter() -> SignalFilter {
    SignalFilter {
        limit: Some(QUEUE_PAGE),
        ..SignalFilter::default()
    }
}

#[cfg(test)]
mod search_tests {
    use super::fuzzy_keep;

    #[test]
    fn a_word_finds_what_holds_it_before_fuzzy_matches() {
        let items = [
            "shell-spawned-by-web-server acme/api known",
            "archive-staged-in-temp-dir kinsing-node-worker-ninja /bin/gzip",
            "recon acme/api KNOWN",
        ];
        let keep = |q: &str| fuzzy_keep(&items, q, |s| s.to_string());
        assert_eq!(
            keep("known"),
            vec![0, 2],
            "the word, not its letters in order"
        );
        assert_eq!(keep("gzp"), vec![1], "fuzzy when nothing holds the query");
        assert_eq!(keep(""), vec![0, 1, 2]);
    }
}
