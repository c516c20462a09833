//! PNG pictures of the window's plots: a request names a file and the
//! rectangle a plot was drawn in; the window asks its viewport for a
//! screenshot of the next frame, and that rectangle of it is written as a
//! PNG off the UI thread (never over one of the run's inputs).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, TryRecvError};

use super::jobs::JobError;

/// A plot to save: where it is on screen, and the file it goes to.
#[derive(Debug, Clone, PartialEq)]
pub struct PictureRequest {
    /// The PNG file.
    pub path: PathBuf,
    /// The plot's rectangle, in points.
    pub region: egui::Rect,
}

/// A request the viewport was asked for a screenshot for.
pub struct Pending {
    /// What to save.
    pub request: PictureRequest,
    /// Pixels per point when it was asked (the screenshot is in pixels).
    pub pixels_per_point: f32,
    screenshot: Receiver<Arc<egui::ColorImage>>,
}

/// What became of a pending screenshot.
pub enum Screenshot {
    /// Not taken yet.
    Waiting,
    /// The whole window's pixels.
    Taken(Arc<egui::ColorImage>),
    /// The window dropped the request without taking one.
    Refused,
}

impl Pending {
    /// Asks `ctx`'s viewport for a screenshot of its next frame.
    pub fn ask(ctx: &egui::Context, request: PictureRequest) -> Pending {
        let (tx, rx) = std::sync::mpsc::channel();
        // The frame after the screenshot arrives writes it.
        let repaint = ctx.clone();
        ctx.send_viewport_cmd(egui::ViewportCommand::Screenshot(
            egui::ScreenshotCallback::new(move |image| {
                let _ = tx.send(image);
                repaint.request_repaint();
            }),
        ));
        ctx.request_repaint();
        Pending {
            request,
            pixels_per_point: ctx.pixels_per_point(),
            screenshot: rx,
        }
    }

    /// The screenshot, once the window has taken it.
    pub fn poll(&self) -> Screenshot {
        match self.screenshot.try_recv() {
            Ok(image) => Screenshot::Taken(image),
            Err(TryRecvError::Empty) => Screenshot::Waiting,
            Err(TryRecvError::Disconnected) => Screenshot::Refused,
        }
    }
}

/// The part of `image` (a screenshot at `pixels_per_point`) inside
/// `region` (points), clipped to the image; `None` when nothing of it is
/// on screen.
pub fn crop(
    image: &egui::ColorImage,
    region: egui::Rect,
    pixels_per_point: f32,
) -> Option<image::RgbaImage> {
    let [width, height] = image.size;
    let pixel =
        |v: f32, limit: usize| ((v * pixels_per_point).round().max(0.0) as usize).min(limit);
    let (x0, x1) = (pixel(region.min.x, width), pixel(region.max.x, width));
    let (y0, y1) = (pixel(region.min.y, height), pixel(region.max.y, height));
    if x1 <= x0 || y1 <= y0 {
        return None;
    }
    let mut out = image::RgbaImage::new((x1 - x0) as u32, (y1 - y0) as u32);
    for (y, row) in (y0..y1).zip(out.rows_mut()) {
        let pixels = &image.pixels[y * width + x0..y * width + x1];
        for (source, target) in pixels.iter().zip(row) {
            *target = image::Rgba(source.to_srgba_unmultiplied());
        }
    }
    Some(out)
}

/// Writes the plot `pending` asked for out of `screenshot` as a PNG file;
/// returns the message to show.
pub fn save(screenshot: &egui::ColorImage, pending: &Pending) -> Result<String, JobError> {
    let PictureRequest { path, region } = &pending.request;
    let picture = crop(screenshot, *region, pending.pixels_per_point).ok_or_else(|| {
        JobError::Picture(format!(
            "{}: the plot was not on screen when the window was captured",
            path.display()
        ))
    })?;
    write_png(path, &picture)?;
    Ok(format!(
        "saved the plot ({} × {} pixels) to {}",
        picture.width(),
        picture.height(),
        path.display()
    ))
}

fn write_png(path: &Path, picture: &image::RgbaImage) -> Result<(), JobError> {
    let mut encoded = Vec::new();
    picture
        .write_to(
            &mut std::io::Cursor::new(&mut encoded),
            image::ImageFormat::Png,
        )
        .map_err(|e| JobError::Picture(format!("{}: {e}", path.display())))?;
    crate::files::write_atomic(path, |file| file.write_all(&encoded))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A screenshot whose every pixel says where it is.
    fn screenshot(width: usize, height: usize) -> egui::ColorImage {
        let pixels = (0..width * height)
            .map(|i| egui::Color32::from_rgb((i % width) as u8, (i / width) as u8, 7))
            .collect();
        egui::ColorImage::new([width, height], pixels)
    }

    #[test]
    fn the_crop_is_the_region_in_pixels_and_clipped_to_the_window() {
        let image = screenshot(200, 100);
        // 10..30 × 5..15 points at 2 pixels per point.
        let region = egui::Rect::from_min_max(egui::pos2(10.0, 5.0), egui::pos2(30.0, 15.0));
        let picture = crop(&image, region, 2.0).unwrap();
        assert_eq!((picture.width(), picture.height()), (40, 20));
        assert_eq!(picture.get_pixel(0, 0).0, [20, 10, 7, 255]);
        assert_eq!(picture.get_pixel(39, 19).0, [59, 29, 7, 255]);
        // Partly off screen: clipped.
        let beyond = egui::Rect::from_min_max(egui::pos2(190.0, -20.0), egui::pos2(260.0, 30.0));
        let picture = crop(&image, beyond, 1.0).unwrap();
        assert_eq!((picture.width(), picture.height()), (10, 30));
        assert_eq!(picture.get_pixel(0, 0).0, [190, 0, 7, 255]);
        // Wholly off screen, or empty: nothing.
        let off = egui::Rect::from_min_max(egui::pos2(300.0, 0.0), egui::pos2(400.0, 50.0));
        assert!(crop(&image, off, 1.0).is_none());
        assert!(crop(&image, egui::Rect::NOTHING, 1.0).is_none());
        let nan = egui::Rect::from_min_max(egui::pos2(f32::NAN, 0.0), egui::pos2(5.0, 5.0));
        assert!(crop(&image, nan, 1.0).is_none_or(|p| p.width() <= 5));
    }
}
