//! Where each part of the screen goes, shared by `render` and by `update` (which pages by the
//! visible height).

use crate::tui::state::{Focus, State};
use ratatui::layout::Rect;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Areas {
    pub status: Rect,
    pub filter: Rect,
    pub list: Option<Rect>,
    pub detail: Option<Rect>,
    pub targets: Option<Rect>,
    pub hints: Rect,
    pub feedback: Rect,
}

fn row(area: Rect, y: u16, h: u16) -> Rect {
    Rect::new(area.x, area.y + y, area.width, h)
}

/// Wide: list and detail side by side; narrow: the list, or the detail full-screen once opened
/// (a stacked detail at 80×24 would get a handful of lines). The targets panel sits under both
/// when there is room for it, or takes the main area while focused.
pub fn areas(area: Rect, state: &State) -> Areas {
    areas_for(area, state.focus, state.targets.reports.len(), state.wide())
}

fn areas_for(area: Rect, focus: Focus, targets: usize, wide: bool) -> Areas {
    let h = area.height;
    let mut a = Areas {
        status: row(area, 0, h.min(1)),
        ..Areas::default()
    };
    if h < 5 {
        return a;
    }
    a.filter = row(area, 1, 1);
    a.hints = row(area, h - 2, 1);
    a.feedback = row(area, h - 1, 1);
    let mut main = Rect::new(area.x, area.y + 2, area.width, h - 4);
    let wanted = match targets {
        // Focused without targets: room to say there are none.
        0 if focus == Focus::Targets => 4,
        0 => 0,
        n => (n as u16 + 3).min(8),
    };
    if focus == Focus::Targets && main.height < wanted + 6 {
        a.targets = Some(main);
        return a;
    }
    if wanted > 0 && main.height >= wanted + 6 {
        a.targets = Some(Rect::new(
            main.x,
            main.y + main.height - wanted,
            main.width,
            wanted,
        ));
        main.height -= wanted;
    }
    if wide {
        let left = main.width * 11 / 20;
        a.list = Some(Rect::new(main.x, main.y, left, main.height));
        a.detail = Some(Rect::new(
            main.x + left,
            main.y,
            main.width - left,
            main.height,
        ));
    } else if focus == Focus::Detail {
        a.detail = Some(main);
    } else {
        a.list = Some(main);
    }
    a
}

/// Rows of events the list shows at once.
pub fn list_capacity(state: &State) -> usize {
    let area = Rect::new(0, 0, state.width, state.height);
    let n = state.targets.reports.len();
    let list = areas(area, state)
        .list
        .or(areas_for(area, Focus::List, n, state.wide()).list);
    list.map_or(1, |l| l.height.saturating_sub(3).max(1) as usize)
}

/// Lines the detail shows at once.
pub fn detail_capacity(state: &State) -> usize {
    let area = Rect::new(0, 0, state.width, state.height);
    areas(area, state)
        .detail
        .map_or(1, |d| d.height.saturating_sub(3).max(1) as usize)
}
