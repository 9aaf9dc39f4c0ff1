//! What a person can ask the UI to do. Keymaps bind keys to these by name.

use std::fmt;

macro_rules! actions {
    ($($variant:ident => $name:literal),* $(,)?) => {
        /// An action of the UI, named in keymaps by its snake_case name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action { $($variant),* }

        impl Action {
            pub const ALL: &'static [Action] = &[$(Action::$variant),*];
            pub fn name(self) -> &'static str {
                match self { $(Action::$variant => $name),* }
            }
            pub fn from_name(name: &str) -> Option<Action> {
                match name { $($name => Some(Action::$variant),)* _ => None }
            }
        }
    };
}

actions! {
    Quit => "quit",
    Back => "back",
    Help => "help",
    Search => "search",
    Down => "down",
    Up => "up",
    PageDown => "page_down",
    PageUp => "page_up",
    Top => "top",
    Bottom => "bottom",
    Open => "open",
    Toggle => "toggle",
    Expand => "expand",
    Collapse => "collapse",
    ExpandAll => "expand_all",
    CollapseAll => "collapse_all",
    FocusNext => "focus_next",
    Images => "images",
    Signals => "signals",
    Suppressions => "suppressions",
    Accept => "accept",
    Reject => "reject",
    Undo => "undo",
    ViewProfile => "view_profile",
    ViewSnapshot => "view_snapshot",
    Promote => "promote",
    ResetLearning => "reset_learning",
    FilterStatus => "filter_status",
    FilterImage => "filter_image",
    FilterRule => "filter_rule",
    ClearFilters => "clear_filters",
    Diff => "diff",
    Outliers => "outliers",
    Responses => "responses",
    Freeze => "freeze",
    Thaw => "thaw",
    Confirm => "confirm",
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
