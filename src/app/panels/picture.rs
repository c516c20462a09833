//! The "PNG…" button beside a plot: it remembers where the plot was drawn,
//! asks for a file, and then asks the window for a picture of that part of
//! it ([`Command::SavePicture`]).

use super::super::Command;
use super::explore::FileDialog;

/// One plot's PNG button.
#[derive(Default)]
pub struct PictureButton {
    dialog: FileDialog,
    /// Where the plot was drawn in the last frame that drew it.
    region: Option<egui::Rect>,
}

impl PictureButton {
    /// The button, proposing the file `name`; once a file is picked, the
    /// command that saves the plot there. Disabled while no plot is drawn.
    pub fn ui(&mut self, ui: &mut egui::Ui, name: &str, out: &mut Vec<Command>) {
        let region = self.region.take();
        let button = ui
            .add_enabled(region.is_some(), egui::Button::new("PNG…"))
            .on_hover_text("Save this plot, as it is on screen, as a PNG picture");
        if button.clicked() {
            self.dialog.save(name);
        }
        // The answer waits while the plot is not drawn (another tab).
        if let Some(region) = region
            && let Some(path) = self.dialog.picked()
        {
            out.push(Command::SavePicture(path, region));
        }
    }

    /// Where the plot was drawn this frame (after [`PictureButton::ui`]), as
    /// far as `ui` shows it.
    pub fn drawn_at(&mut self, ui: &egui::Ui, rect: egui::Rect) {
        self.region = Some(rect.intersect(ui.clip_rect()));
    }
}
