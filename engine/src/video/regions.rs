//! The parts of a frame the detector looks at. Looking costs in proportion to the pixels, so
//! a frame is not searched whole every time: only where something moved since the last frame
//! ([`Motion`]), around the faces being followed, and whole every few seconds (for someone who
//! stood still from the start). Boxes are [`FaceBox`]es: left, top, width, height in pixels.

use domain::faces::FaceBox;
use image::RgbImage;

/// The side, in pixels, of the cells motion is measured in.
const CELL: u32 = 16;
/// How much a cell's mean brightness (0–255) must change to count as motion: more than a
/// compressed stream's noise, less than a person crossing it.
const MOVED: i32 = 6;
/// When the parts to search cover more than this share of the frame, it is searched whole
/// (in one piece rather than many overlapping ones).
const MOSTLY: f64 = 0.6;

/// Measures what moved from one frame to the next.
#[derive(Default)]
pub struct Motion {
    previous: Option<Cells>,
}

struct Cells {
    columns: u32,
    rows: u32,
    width: u32,
    height: u32,
    brightness: Vec<u8>,
}

impl Motion {
    /// The boxes around what changed since the last frame (each connected patch of changed
    /// cells, a cell wider all round). The first frame, or one of another size, moved whole.
    pub fn moved(&mut self, frame: &RgbImage) -> Vec<FaceBox> {
        let cells = cells(frame);
        let moved = match &self.previous {
            Some(p) if p.width == cells.width && p.height == cells.height => patches(p, &cells),
            _ => vec![whole(frame)],
        };
        self.previous = Some(cells);
        moved
    }
}

/// The mean brightness of each cell.
fn cells(frame: &RgbImage) -> Cells {
    let (width, height) = frame.dimensions();
    let columns = width.div_ceil(CELL);
    let rows = height.div_ceil(CELL);
    let mut sums = vec![0u32; (columns * rows) as usize];
    let mut counts = vec![0u32; (columns * rows) as usize];
    let raw = frame.as_raw();
    for y in 0..height {
        let row = (y / CELL * columns) as usize;
        let line = &raw[(y * width * 3) as usize..((y + 1) * width * 3) as usize];
        for (x, p) in line.chunks_exact(3).enumerate() {
            let cell = row + x / CELL as usize;
            // Rec. 601 luma, in integers.
            sums[cell] +=
                (u32::from(p[0]) * 77 + u32::from(p[1]) * 150 + u32::from(p[2]) * 29) >> 8;
            counts[cell] += 1;
        }
    }
    Cells {
        columns,
        rows,
        width,
        height,
        brightness: sums
            .iter()
            .zip(&counts)
            .map(|(s, n)| (s / (*n).max(1)) as u8)
            .collect(),
    }
}

/// Boxes around the connected patches of cells that changed.
fn patches(before: &Cells, now: &Cells) -> Vec<FaceBox> {
    let (columns, rows) = (now.columns as i32, now.rows as i32);
    let changed: Vec<bool> = before
        .brightness
        .iter()
        .zip(&now.brightness)
        .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs() >= MOVED)
        .collect();
    let mut seen = vec![false; changed.len()];
    let mut boxes = Vec::new();
    for start in 0..changed.len() {
        if !changed[start] || seen[start] {
            continue;
        }
        let (mut min_x, mut min_y, mut max_x, mut max_y) = (i32::MAX, i32::MAX, 0, 0);
        let mut stack = vec![start];
        seen[start] = true;
        while let Some(cell) = stack.pop() {
            let (x, y) = (cell as i32 % columns, cell as i32 / columns);
            (min_x, min_y, max_x, max_y) = (min_x.min(x), min_y.min(y), max_x.max(x), max_y.max(y));
            // Neighbours two cells away count as touching: a face's edges move, its middle
            // may not.
            for dy in -2..=2 {
                for dx in -2..=2 {
                    let (nx, ny) = (x + dx, y + dy);
                    if nx < 0 || ny < 0 || nx >= columns || ny >= rows {
                        continue;
                    }
                    let n = (ny * columns + nx) as usize;
                    if changed[n] && !seen[n] {
                        seen[n] = true;
                        stack.push(n);
                    }
                }
            }
        }
        let cell = CELL as i32;
        let left = ((min_x - 1) * cell).max(0) as u32;
        let top = ((min_y - 1) * cell).max(0) as u32;
        let right = (((max_x + 2) * cell) as u32).min(now.width);
        let bottom = (((max_y + 2) * cell) as u32).min(now.height);
        boxes.push(FaceBox {
            left,
            top,
            width: right - left,
            height: bottom - top,
        });
    }
    boxes
}

/// The whole of a frame as a box.
pub fn whole(frame: &RgbImage) -> FaceBox {
    FaceBox {
        left: 0,
        top: 0,
        width: frame.width(),
        height: frame.height(),
    }
}

/// `b` grown by `margin` pixels on each side, within `bounds`.
pub fn grown(b: &FaceBox, margin: u32, bounds: &FaceBox) -> FaceBox {
    let left = b.left.saturating_sub(margin).max(bounds.left);
    let top = b.top.saturating_sub(margin).max(bounds.top);
    let right = (b.left + b.width + margin).min(bounds.left + bounds.width);
    let bottom = (b.top + b.height + margin).min(bounds.top + bounds.height);
    FaceBox {
        left,
        top,
        width: right.saturating_sub(left),
        height: bottom.saturating_sub(top),
    }
}

/// Where `a` and `b` overlap, if they do.
pub fn overlap(a: &FaceBox, b: &FaceBox) -> Option<FaceBox> {
    let left = a.left.max(b.left);
    let top = a.top.max(b.top);
    let right = (a.left + a.width).min(b.left + b.width);
    let bottom = (a.top + a.height).min(b.top + b.height);
    (right > left && bottom > top).then(|| FaceBox {
        left,
        top,
        width: right - left,
        height: bottom - top,
    })
}

fn area(b: &FaceBox) -> u64 {
    u64::from(b.width) * u64::from(b.height)
}

/// How much two boxes overlap: their intersection over their union, 0 to 1.
pub fn iou(a: &FaceBox, b: &FaceBox) -> f32 {
    let Some(both) = overlap(a, b) else {
        return 0.0;
    };
    let shared = area(&both) as f64;
    (shared / ((area(a) + area(b)) as f64 - shared)).min(1.0) as f32
}

/// The smallest box holding both.
fn union(a: &FaceBox, b: &FaceBox) -> FaceBox {
    let left = a.left.min(b.left);
    let top = a.top.min(b.top);
    let right = (a.left + a.width).max(b.left + b.width);
    let bottom = (a.top + a.height).max(b.top + b.height);
    FaceBox {
        left,
        top,
        width: right - left,
        height: bottom - top,
    }
}

/// The parts of `frame` (within `watched`) to search: `wanted` boxes, those that overlap
/// merged into one, or `watched` whole when they would cover most of it anyway.
pub fn to_search(mut wanted: Vec<FaceBox>, watched: &FaceBox) -> Vec<FaceBox> {
    wanted = wanted.iter().filter_map(|b| overlap(b, watched)).collect();
    let mut merged: Vec<FaceBox> = Vec::new();
    while let Some(mut b) = wanted.pop() {
        // Merging may make a box overlap one merged before: go round until nothing changes.
        while let Some(i) = merged.iter().position(|m| overlap(m, &b).is_some()) {
            b = union(&merged.swap_remove(i), &b);
        }
        merged.push(b);
    }
    let covered: u64 = merged.iter().map(area).sum();
    if covered as f64 > MOSTLY * area(watched) as f64 {
        return vec![*watched];
    }
    merged.sort_by_key(|b| (b.top, b.left));
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_with_square(x: u32, y: u32) -> RgbImage {
        RgbImage::from_fn(640, 360, |px, py| {
            let inside = (x..x + 80).contains(&px) && (y..y + 80).contains(&py);
            image::Rgb(if inside {
                [220, 180, 160]
            } else {
                [90, 90, 90]
            })
        })
    }

    #[test]
    fn only_what_moved_is_searched() {
        let mut motion = Motion::default();
        let first = motion.moved(&frame_with_square(100, 100));
        assert_eq!(first, vec![whole(&frame_with_square(0, 0))]);
        assert!(motion.moved(&frame_with_square(100, 100)).is_empty());
        let moved = motion.moved(&frame_with_square(300, 200));
        assert_eq!(moved.len(), 2, "where it was and where it is: {moved:?}");
        for b in &moved {
            assert!(b.width < 160 && b.height < 160, "{b:?}");
        }
        assert!(moved.iter().any(|b| overlap(
            b,
            &FaceBox {
                left: 300,
                top: 200,
                width: 80,
                height: 80
            }
        )
        .is_some()));
    }

    #[test]
    fn overlapping_parts_merge_and_most_of_the_frame_is_the_frame() {
        let watched = FaceBox {
            left: 0,
            top: 0,
            width: 1000,
            height: 1000,
        };
        let b = |left, top, side| FaceBox {
            left,
            top,
            width: side,
            height: side,
        };
        let merged = to_search(
            vec![b(0, 0, 100), b(50, 50, 100), b(500, 500, 100)],
            &watched,
        );
        assert_eq!(merged, vec![b(0, 0, 150), b(500, 500, 100)]);
        assert_eq!(to_search(vec![b(0, 0, 900)], &watched), vec![watched]);
        let half = FaceBox {
            left: 500,
            top: 0,
            width: 500,
            height: 1000,
        };
        assert_eq!(
            to_search(vec![b(400, 400, 200)], &half),
            vec![FaceBox {
                left: 500,
                top: 400,
                width: 100,
                height: 200
            }]
        );
        assert!((iou(&b(0, 0, 100), &b(50, 0, 100)) - 1.0 / 3.0).abs() < 1e-3);
    }
}
