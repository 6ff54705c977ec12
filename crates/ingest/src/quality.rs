//! Video quality diagnosis (视频质量诊断): per camera, from its decoded frames, whether the
//! picture is usable and, if not, why: no signal, black, snow, frozen, covered, blurred, moved,
//! too dark, too bright or tinted.
//!
//! [`QualityMonitor`] is sans-IO: feed it every decoded [`Frame`] with [`QualityMonitor::push`]
//! and it returns the [`QualityEvent`]s (a diagnosis raised or cleared) that frame decided;
//! [`QualityMonitor::status`] is the current [`Diagnosis`] of every [`QualityKind`]. Time is
//! the frames' `captured_ms`, never the clock, so a test replays minutes of video in a second.
//!
//! How it looks at a frame: at most one frame per `sample_interval_ms` is sampled, on a fixed
//! grid of 64×36 cells over the I420 planes, never in a full-frame pass. Per cell it takes the
//! mean luma of 3×3 points, the gradient energy at those points towards neighbours 1 px away
//! (`fine`) and `width / 40` px away (`coarse`), and one chroma pair. Some faults are absolute
//! (a flat screen, snow, the mean luma, chroma far from grey); the others compare the camera
//! with itself. During its first `learn_s` seconds of usable video the monitor learns a
//! reference of up to 32 views (a fixed camera has one; a camera touring presets, or the
//! edited street montage the simulated cameras loop, has several), each a mean luma thumbnail
//! with its per-cell texture and its sharpness (fine over coarse energy). So a naturally flat
//! or soft scene is not "blurred", a covered lens is told from a dark night (what stays visible
//! keeps its contrast), and a camera knocked sideways from traffic driving through (the
//! thumbnail no longer correlates with any view). A view follows slow lighting changes while
//! it matches well.
//!
//! Invariants: a diagnosis is raised only after its condition held for its persistence time
//! (`raise_after_s`, or `frozen_after_s` / `scene_change_after_s`), gaps shorter than
//! `grace_s` not counting (any change ends `frozen`), and cleared only after the condition was
//! absent for `clear_after_s`; so a passing truck neither raises nor clears anything. When one
//! cause explains a picture its symptoms are not reported too: a flat screen is only
//! `signal_loss` or `black_screen`, snow is only `noise`, a covered lens is not also too dark,
//! and its scene is judged on what stays visible; blur and occlusion are judged only while the
//! view is recognised. A new picture size discards the reference and learns it again.
//!
//! Performance: a sampled frame costs about 21 k sample points (100 k byte reads) whatever the
//! resolution, plus one 2304-cell correlation per view: about 0.15 ms with one view and
//! 0.4 ms with 25 on one 2.1 GHz core (release build); frames between samples cost a
//! comparison. Memory: about 30 KB per camera plus about 20 KB per view.

use std::fmt;
use std::sync::Arc;

use base::Frame;
use serde::{Deserialize, Deserializer};
use tracing::{debug, info};

/// Thumbnail grid: columns and rows of cells.
const GW: usize = 64;
const GH: usize = 36;
const CELLS: usize = GW * GH;
/// Sample points per cell along each axis.
const SUB: usize = 3;
/// A cell is flat when its coarse gradient energy is below this (3 levels across `coarse`
/// pixels); for `signal_loss` it must also lie within `FLAT_TOLERANCE` of the median luma.
const FLAT_ENERGY: f32 = 9.0;
const FLAT_TOLERANCE: f32 = 8.0;
/// A reference cell is textured (something that can be covered) above this coarse energy.
const TEXTURED_ENERGY: f32 = 100.0;
/// Below this mean coarse energy a frame has too little structure to judge its sharpness.
const MIN_SHARPNESS_ENERGY: f32 = 25.0;
/// From this share of the view's texture gone on, scene similarity looks only at the cells
/// with texture.
const PARTLY_COVERED: f32 = 0.25;
/// An occluded picture keeps at least this share of the contrast where it is not covered.
const MIN_VISIBLE_CONTRAST: f32 = 0.3;
/// Snow needs real energy at pixel scale, not just encoder dither on a flat frame.
const MIN_NOISE_ENERGY: f32 = 50.0;
/// Views of the reference: at most this many; a sample joins the best view correlating at
/// least `VIEW_MATCH`, else starts a new one; views seen in fewer than `MIN_VIEW_SHARE` of
/// the learning samples (a bus passing close) are dropped.
const MAX_VIEWS: usize = 32;
const VIEW_MATCH: f32 = 0.8;
const MIN_VIEW_SHARE: f32 = 0.01;
/// Learning also needs this many usable samples.
const MIN_LEARN_SAMPLES: u32 = 10;
/// After learning, a view matching this well follows the picture at this rate per sample.
const ADAPT_MATCH: f32 = 0.85;
const ADAPT_RATE: f32 = 0.002;

/// Thresholds and persistence times of video quality diagnosis. Every field may be left out
/// of a config file (unknown ones are an error); the defaults suit a fixed street camera.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QualityConfig {
    /// Analyse at most one frame per this many milliseconds. Default 200 (5 per second).
    pub sample_interval_ms: u64,
    /// Seconds of usable video the reference views are learned from. Default 60. Blur,
    /// occlusion and scene change are judged only once they are learned.
    #[serde(deserialize_with = "seconds")]
    pub learn_s: f32,
    /// A condition must hold this long before it is raised. Default 10 s.
    #[serde(deserialize_with = "seconds")]
    pub raise_after_s: f32,
    /// A raised diagnosis clears once its condition was absent this long. Default 10 s.
    #[serde(deserialize_with = "seconds")]
    pub clear_after_s: f32,
    /// Gaps shorter than this do not restart a condition's persistence time (a truck passing
    /// in front of a covered lens). Not applied to `frozen`, which any change ends. Default 2 s.
    #[serde(deserialize_with = "seconds")]
    pub grace_s: f32,
    /// `frozen` is raised after the picture did not change for this long. Default 60 s (an
    /// empty street at night can be still for many seconds).
    #[serde(deserialize_with = "seconds")]
    pub frozen_after_s: f32,
    /// `scene_change` is raised after the view differed from every reference view this long.
    /// Default 30 s (a bus parked in front of the camera is not a moved camera).
    #[serde(deserialize_with = "seconds")]
    pub scene_change_after_s: f32,
    /// `signal_loss`: fraction of cells that are flat and share the median luma. Default 0.95
    /// (room for an on-screen clock).
    #[serde(deserialize_with = "fraction")]
    pub signal_loss_min: f32,
    /// `black_screen`: fraction of cells darker than `black_luma`. Default 0.95.
    #[serde(deserialize_with = "fraction")]
    pub black_min: f32,
    /// `black_screen`: luma below which a cell is black. Default 24 (video black is 16).
    #[serde(deserialize_with = "luma")]
    pub black_luma: f32,
    /// `noise`: ratio of fine to coarse gradient energy at or above this. Default 0.5 (camera
    /// video stays below 0.15, white noise is 1).
    #[serde(deserialize_with = "positive")]
    pub noise_min: f32,
    /// `frozen`: a cell whose mean luma moved more than this many levels from the still
    /// picture has changed. Default 6 (re-encoding a still picture moves cells by 1 or 2).
    #[serde(deserialize_with = "luma")]
    pub frozen_cell_delta: f32,
    /// `frozen`: the picture is still while at most this fraction of cells changed. Default
    /// 0.002 (4 of 2304 cells).
    #[serde(deserialize_with = "fraction")]
    pub frozen_max_changed: f32,
    /// `occlusion`: fraction of the view's textured cells that became flat. Default 0.5.
    #[serde(deserialize_with = "fraction")]
    pub occlusion_min: f32,
    /// `blur`: sharpness relative to the view's, at or below this. Default 0.6.
    #[serde(deserialize_with = "positive")]
    pub blur_max: f32,
    /// `scene_change`: best correlation of the luma thumbnail with a reference view, at or
    /// below this. Default 0.5 (traffic keeps a fixed view above 0.7).
    #[serde(deserialize_with = "correlation")]
    pub scene_min: f32,
    /// `too_dark`: mean luma at or below this. Default 40.
    #[serde(deserialize_with = "luma")]
    pub dark_luma: f32,
    /// `too_bright`: mean luma at or above this. Default 215.
    #[serde(deserialize_with = "luma")]
    pub bright_luma: f32,
    /// `colour_cast`: distance of the mean chroma (U, V) from grey, in levels, at or above
    /// this. Default 20 (daylight street scenes stay below 8).
    #[serde(deserialize_with = "positive")]
    pub cast_min: f32,
}

impl Default for QualityConfig {
    fn default() -> Self {
        QualityConfig {
            sample_interval_ms: 200,
            learn_s: 60.0,
            raise_after_s: 10.0,
            clear_after_s: 10.0,
            grace_s: 2.0,
            frozen_after_s: 60.0,
            scene_change_after_s: 30.0,
            signal_loss_min: 0.95,
            black_min: 0.95,
            black_luma: 24.0,
            noise_min: 0.5,
            frozen_cell_delta: 6.0,
            frozen_max_changed: 0.002,
            occlusion_min: 0.5,
            blur_max: 0.6,
            scene_min: 0.5,
            dark_luma: 40.0,
            bright_luma: 215.0,
            cast_min: 20.0,
        }
    }
}

fn checked<'de, D: Deserializer<'de>>(
    d: D,
    ok: impl Fn(f32) -> bool,
    what: &str,
) -> Result<f32, D::Error> {
    let v = f32::deserialize(d)?;
    if v.is_finite() && ok(v) {
        Ok(v)
    } else {
        Err(serde::de::Error::custom(format!(
            "invalid value {v}: expected {what}"
        )))
    }
}

fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
    checked(
        d,
        |v| (0.0..=86_400.0).contains(&v),
        "seconds from 0 to 86400",
    )
}

fn fraction<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
    checked(d, |v| (0.0..=1.0).contains(&v), "a fraction from 0 to 1")
}

fn luma<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
    checked(
        d,
        |v| (0.0..=255.0).contains(&v),
        "a luma level from 0 to 255",
    )
}

fn positive<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
    checked(d, |v| v >= 0.0, "a number of at least 0")
}

fn correlation<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
    checked(
        d,
        |v| (-1.0..=1.0).contains(&v),
        "a correlation from -1 to 1",
    )
}

/// What can be wrong with a camera's picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QualityKind {
    /// 无信号: a flat screen of one colour (blue, green, grey) as a decoder or encoder shows
    /// with no input. Score: fraction of flat cells at the median luma; raised at or above
    /// `signal_loss_min`.
    SignalLoss,
    /// 黑屏. Score: fraction of cells darker than `black_luma`; at or above `black_min`.
    BlackScreen,
    /// 雪花噪声: snow, heavy noise. Score: fine over coarse gradient energy; at or above
    /// `noise_min`.
    Noise,
    /// 画面冻结: frames keep coming but the picture does not change. Score: fraction of cells
    /// that changed since the picture was last seen changing; at or below
    /// `frozen_max_changed`.
    Frozen,
    /// 遮挡: much of the lens covered. Score: fraction of the matching view's textured cells
    /// that are flat now; at or above `occlusion_min`.
    Occlusion,
    /// 模糊: out of focus. Score: sharpness relative to the matching view's (1 = as sharp); at
    /// or below `blur_max`.
    Blur,
    /// 场景变换: the camera looks elsewhere. Score: best correlation of the luma thumbnail with
    /// a reference view (1 = same view); at or below `scene_min`.
    SceneChange,
    /// 过暗. Score: mean luma (0–255); at or below `dark_luma`.
    TooDark,
    /// 过亮. Score: mean luma (0–255); at or above `bright_luma`.
    TooBright,
    /// 偏色. Score: distance of the mean chroma from grey, in levels; at or above `cast_min`.
    ColourCast,
}

impl QualityKind {
    /// Every kind, in the order [`QualityMonitor::status`] reports them.
    pub const ALL: [QualityKind; 10] = [
        QualityKind::SignalLoss,
        QualityKind::BlackScreen,
        QualityKind::Noise,
        QualityKind::Frozen,
        QualityKind::Occlusion,
        QualityKind::Blur,
        QualityKind::SceneChange,
        QualityKind::TooDark,
        QualityKind::TooBright,
        QualityKind::ColourCast,
    ];

    /// Stable snake_case name, for logs, metrics and APIs.
    pub fn name(self) -> &'static str {
        match self {
            QualityKind::SignalLoss => "signal_loss",
            QualityKind::BlackScreen => "black_screen",
            QualityKind::Noise => "noise",
            QualityKind::Frozen => "frozen",
            QualityKind::Occlusion => "occlusion",
            QualityKind::Blur => "blur",
            QualityKind::SceneChange => "scene_change",
            QualityKind::TooDark => "too_dark",
            QualityKind::TooBright => "too_bright",
            QualityKind::ColourCast => "colour_cast",
        }
    }

    /// True when a score at or below the threshold is the fault (stillness, sharpness,
    /// similarity, darkness); false when a score at or above it is.
    pub fn low_is_bad(self) -> bool {
        matches!(
            self,
            QualityKind::Frozen
                | QualityKind::Blur
                | QualityKind::SceneChange
                | QualityKind::TooDark
        )
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for QualityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The state of one [`QualityKind`] for one camera.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnosis {
    pub kind: QualityKind,
    /// The latest score (unit per [`QualityKind`]); `None` before the first sampled frame, and
    /// for blur, occlusion and scene change while the reference is learned (blur also when the
    /// picture has too little structure to judge).
    pub score: Option<f32>,
    /// The configured threshold the score is compared with (see [`QualityKind::low_is_bad`]).
    pub threshold: f32,
    /// Raised: the condition held for its persistence time and has not cleared since.
    pub active: bool,
    /// `captured_ms` of the sampled frame where the current run of the condition began; `None`
    /// while the condition is absent and nothing is raised.
    pub since_ms: Option<i64>,
}

/// A diagnosis raised or cleared by one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityEvent {
    pub camera: Arc<str>,
    /// `captured_ms` of the frame that decided it.
    pub at_ms: i64,
    /// The diagnosis after the change: `active` is true when raised, false when cleared.
    pub diagnosis: Diagnosis,
}

impl QualityEvent {
    pub fn kind(&self) -> QualityKind {
        self.diagnosis.kind
    }

    pub fn raised(&self) -> bool {
        self.diagnosis.active
    }
}

const KINDS: usize = QualityKind::ALL.len();

/// Video quality diagnosis of one camera; see the module docs.
#[derive(Debug, Clone)]
pub struct QualityMonitor {
    camera: Arc<str>,
    cfg: QualityConfig,
    grid: Option<Grid>,
    sample: Sample,
    /// Monotonic time is `captured_ms + offset`; the offset grows when the clock steps back.
    offset: i64,
    last_t: Option<i64>,
    next_sample_t: i64,
    reference: Reference,
    still: Still,
    trackers: [Tracker; KINDS],
    /// The latest sample's scores and which conditions held in it.
    scores: [Option<f32>; KINDS],
    on: [bool; KINDS],
}

impl QualityMonitor {
    pub fn new(camera: &str, cfg: QualityConfig) -> QualityMonitor {
        QualityMonitor {
            camera: camera.into(),
            cfg,
            grid: None,
            sample: Sample::default(),
            offset: 0,
            last_t: None,
            next_sample_t: i64::MIN,
            reference: Reference::default(),
            still: Still::default(),
            trackers: Default::default(),
            scores: [None; KINDS],
            on: [false; KINDS],
        }
    }

    pub fn camera(&self) -> &str {
        &self.camera
    }

    pub fn config(&self) -> &QualityConfig {
        &self.cfg
    }

    /// Number of reference views once learned (blur, occlusion and scene change are judged
    /// from then on); `None` while learning.
    pub fn reference_views(&self) -> Option<usize> {
        self.reference.ready.then_some(self.reference.views.len())
    }

    /// Forgets the reference and learns it again from the next `learn_s` seconds of video
    /// (after a camera was deliberately moved or refocused); raised blur, occlusion and scene
    /// change clear `clear_after_s` later.
    pub fn relearn(&mut self) {
        self.reference = Reference::default();
    }

    /// Looks at `frame` if a sample is due and returns the diagnoses it raised or cleared.
    pub fn push(&mut self, frame: &Frame) -> Vec<QualityEvent> {
        let t = self.time(frame.captured_ms);
        let (w, h) = (frame.width as usize, frame.height as usize);
        if t < self.next_sample_t || w < 32 || h < 32 {
            return Vec::new();
        }
        self.next_sample_t = t + self.cfg.sample_interval_ms.max(1) as i64;
        if self
            .grid
            .as_ref()
            .is_none_or(|g| (g.width, g.height) != (w, h))
        {
            if self.grid.is_some() {
                info!(camera = %self.camera, width = w, height = h,
                      "picture size changed: learning the reference again");
            }
            self.grid = Some(Grid::new(w, h));
            self.reference = Reference::default();
            self.still = Still::default();
        }
        let grid = self.grid.as_ref().expect("grid set above");
        self.sample.measure(frame, grid);
        let stats = Stats::of(&self.sample, self.cfg.black_luma);
        let usable = self.evaluate(&stats, t);
        if usable {
            self.reference
                .learn(&self.sample, &stats, t, &self.camera, &self.cfg);
        }
        self.track(t, frame.captured_ms)
    }

    /// The current diagnosis of every [`QualityKind`], in [`QualityKind::ALL`] order.
    pub fn status(&self) -> Vec<Diagnosis> {
        QualityKind::ALL.map(|kind| self.diagnosis(kind)).to_vec()
    }

    /// The raised diagnoses.
    pub fn active(&self) -> Vec<Diagnosis> {
        self.status().into_iter().filter(|d| d.active).collect()
    }

    fn diagnosis(&self, kind: QualityKind) -> Diagnosis {
        let tracker = &self.trackers[kind.index()];
        Diagnosis {
            kind,
            score: self.scores[kind.index()],
            threshold: self.threshold(kind),
            active: tracker.active,
            since_ms: tracker.since.map(|t| t - self.offset),
        }
    }

    fn threshold(&self, kind: QualityKind) -> f32 {
        let c = &self.cfg;
        match kind {
            QualityKind::SignalLoss => c.signal_loss_min,
            QualityKind::BlackScreen => c.black_min,
            QualityKind::Noise => c.noise_min,
            QualityKind::Frozen => c.frozen_max_changed,
            QualityKind::Occlusion => c.occlusion_min,
            QualityKind::Blur => c.blur_max,
            QualityKind::SceneChange => c.scene_min,
            QualityKind::TooDark => c.dark_luma,
            QualityKind::TooBright => c.bright_luma,
            QualityKind::ColourCast => c.cast_min,
        }
    }

    /// Monotonic milliseconds from `captured_ms`: a clock stepping back shifts the timeline.
    fn time(&mut self, captured_ms: i64) -> i64 {
        let mut t = captured_ms + self.offset;
        if let Some(last) = self.last_t {
            if t < last {
                self.offset += last - t;
                t = last;
            }
        }
        self.last_t = Some(t);
        t
    }

    /// Scores this sample and decides which conditions hold, after suppression. Returns
    /// whether the sample is usable for learning the reference (not flat, not snow).
    fn evaluate(&mut self, s: &Stats, t: i64) -> bool {
        use QualityKind as K;
        let changed = self.still.update(&self.sample, &self.cfg, t);
        let matched = self.reference.best_view(&self.sample);
        let thresholds = QualityKind::ALL.map(|k| self.threshold(k));
        let c = &self.cfg;
        let mut score = [None; KINDS];
        let mut on = [false; KINDS];
        let mut set = |kind: K, value: Option<f32>, holds: bool| {
            let threshold = thresholds[kind.index()];
            let bad = value.is_some_and(|v| {
                if kind.low_is_bad() {
                    v <= threshold
                } else {
                    v >= threshold
                }
            });
            score[kind.index()] = value;
            on[kind.index()] = holds && bad;
            holds && bad
        };

        let signal_loss = if s.median_luma >= c.black_luma {
            s.flat_fraction
        } else {
            0.0
        };
        let flat = set(K::SignalLoss, Some(signal_loss), true)
            | set(K::BlackScreen, Some(s.black_fraction), true);
        let noise = set(
            K::Noise,
            Some(s.fine_ratio),
            !flat && s.mean_fine >= MIN_NOISE_ENERGY,
        );
        set(K::Frozen, Some(changed), !flat && !noise);
        set(K::TooBright, Some(s.mean_luma), !flat);
        set(K::ColourCast, Some(s.cast), !flat && !noise);
        let covered = match matched {
            Some(m) => {
                let same_view = m.similarity > c.scene_min;
                // Covered: much of the texture is gone, but what is left is the same view with
                // its contrast.
                let covered = set(
                    K::Occlusion,
                    Some(m.occluded),
                    !flat && !noise && same_view && m.visible_contrast >= MIN_VISIBLE_CONTRAST,
                );
                let view = &self.reference.views[m.view];
                let sharpness = view
                    .sharpness
                    .filter(|_| s.mean_coarse >= MIN_SHARPNESS_ENERGY)
                    .map(|r| s.fine_ratio / r);
                set(K::Blur, sharpness, !flat && !noise && !covered && same_view);
                set(K::SceneChange, Some(m.similarity), !flat && !noise);
                covered
            }
            None => false,
        };
        set(K::TooDark, Some(s.mean_luma), !flat && !covered);

        self.scores = score;
        self.on = on;
        if let Some(m) = matched {
            if m.similarity >= ADAPT_MATCH && !on.contains(&true) {
                self.reference.views[m.view].adapt(&self.sample);
            }
        }
        !flat && !noise
    }

    /// Feeds this sample's conditions into the trackers; returns what was raised or cleared.
    fn track(&mut self, t: i64, captured_ms: i64) -> Vec<QualityEvent> {
        let ms = |s: f32| (s * 1000.0) as i64;
        let mut events = Vec::new();
        for kind in QualityKind::ALL {
            let timing = Timing {
                raise_after: ms(match kind {
                    QualityKind::Frozen => self.cfg.frozen_after_s,
                    QualityKind::SceneChange => self.cfg.scene_change_after_s,
                    _ => self.cfg.raise_after_s,
                }),
                clear_after: ms(self.cfg.clear_after_s),
                grace: match kind {
                    QualityKind::Frozen => 0,
                    _ => ms(self.cfg.grace_s),
                },
            };
            // A still picture has been frozen since it was first seen, one sample earlier.
            let start = match kind {
                QualityKind::Frozen => self.still.since,
                _ => t,
            };
            let on = self.on[kind.index()];
            let Some(raised) = self.trackers[kind.index()].update(on, t, start, &timing) else {
                continue;
            };
            let diagnosis = self.diagnosis(kind);
            if raised {
                info!(camera = %self.camera, %kind, score = ?diagnosis.score,
                      threshold = diagnosis.threshold, "video quality problem raised");
            } else {
                info!(camera = %self.camera, %kind, "video quality problem cleared");
            }
            events.push(QualityEvent {
                camera: self.camera.clone(),
                at_ms: captured_ms,
                diagnosis,
            });
        }
        events
    }
}

/// Persistence times of one kind, in ms.
struct Timing {
    raise_after: i64,
    clear_after: i64,
    grace: i64,
}

/// Persistence of one condition: raised once it held `raise_after` (gaps up to `grace` not
/// breaking it), cleared once it was absent `clear_after`.
#[derive(Debug, Clone, Default)]
struct Tracker {
    active: bool,
    /// Start of the current run of the condition (kept while raised).
    since: Option<i64>,
    last_on: Option<i64>,
}

impl Tracker {
    /// `Some(true)` when raised by this sample, `Some(false)` when cleared. `start` is when
    /// the condition began if it is on now (`t` but for `frozen`).
    fn update(&mut self, on: bool, t: i64, start: i64, timing: &Timing) -> Option<bool> {
        if on {
            let since = *self.since.get_or_insert(start);
            self.last_on = Some(t);
            if !self.active && t - since >= timing.raise_after {
                self.active = true;
                return Some(true);
            }
            return None;
        }
        let absent = self.last_on.map_or(i64::MAX, |l| t - l);
        if self.active && absent >= timing.clear_after {
            *self = Tracker::default();
            return Some(false);
        }
        if !self.active && absent > timing.grace {
            self.since = None;
        }
        None
    }
}

/// Where the sample points lie for one picture size.
#[derive(Debug, Clone)]
struct Grid {
    width: usize,
    height: usize,
    /// Luma sample columns, `SUB` per cell: (x, x of the fine neighbour, x of the coarse one).
    xs: Vec<[usize; 3]>,
    /// Luma sample rows, likewise.
    ys: Vec<[usize; 3]>,
    /// Chroma sample column / row per cell, in chroma-plane coordinates.
    cxs: Vec<usize>,
    cys: Vec<usize>,
}

impl Grid {
    fn new(width: usize, height: usize) -> Grid {
        let coarse = (width / 40).max(4);
        let points = |len: usize, cells: usize| -> Vec<[usize; 3]> {
            let n = cells * SUB;
            (0..n)
                .map(|i| {
                    let p = (2 * i + 1) * len / (2 * n);
                    let away = |d: usize| {
                        if p + d < len {
                            p + d
                        } else {
                            p.saturating_sub(d)
                        }
                    };
                    [p, away(1), away(coarse)]
                })
                .collect()
        };
        let centres = |len: usize, cells: usize| -> Vec<usize> {
            (0..cells)
                .map(|i| (2 * i + 1) * len / (4 * cells))
                .collect()
        };
        Grid {
            width,
            height,
            xs: points(width, GW),
            ys: points(height, GH),
            cxs: centres(width, GW),
            cys: centres(height, GH),
        }
    }
}

/// Per-cell measurements of one sampled frame.
#[derive(Debug, Clone)]
struct Sample {
    luma: Vec<f32>,
    /// Mean squared luma difference to the fine neighbours (right, below).
    fine: Vec<f32>,
    /// The same to the coarse neighbours.
    coarse: Vec<f32>,
    u: Vec<f32>,
    v: Vec<f32>,
    /// Cells with texture whose neighbours have texture too: surely not behind (or at the
    /// edge of) something covering the lens.
    visible: Vec<bool>,
    /// `luma` centred, for correlating with the reference.
    centred: Centred,
}

impl Default for Sample {
    fn default() -> Self {
        Sample {
            luma: vec![0.0; CELLS],
            fine: vec![0.0; CELLS],
            coarse: vec![0.0; CELLS],
            u: vec![0.0; CELLS],
            v: vec![0.0; CELLS],
            visible: vec![false; CELLS],
            centred: Centred::default(),
        }
    }
}

impl Sample {
    fn measure(&mut self, frame: &Frame, grid: &Grid) {
        let data = &frame.data[..];
        let [yp, up, vp] = frame.planes;
        let n = (SUB * SUB) as f32;
        let row_at = |y: usize| &data[yp.offset + y * yp.stride..][..grid.width];
        // One cell row at a time, reading the sample rows left to right.
        let mut acc = [[0u32; 3]; GW];
        for cy in 0..GH {
            acc.fill([0; 3]);
            for &[y, y1, yc] in &grid.ys[cy * SUB..(cy + 1) * SUB] {
                let (row, below, far) = (row_at(y), row_at(y1), row_at(yc));
                for (cell, cols) in acc.iter_mut().zip(grid.xs.chunks_exact(SUB)) {
                    for &[x, x1, xc] in cols {
                        let p = row[x] as i32;
                        let (dx, dy) = (row[x1] as i32 - p, below[x] as i32 - p);
                        let (cx, cy) = (row[xc] as i32 - p, far[x] as i32 - p);
                        cell[0] += p as u32;
                        cell[1] += (dx * dx + dy * dy) as u32;
                        cell[2] += (cx * cx + cy * cy) as u32;
                    }
                }
            }
            let (uy, vy) = (
                up.offset + grid.cys[cy] * up.stride,
                vp.offset + grid.cys[cy] * vp.stride,
            );
            for (cx, cell) in acc.iter().enumerate() {
                let i = cy * GW + cx;
                self.luma[i] = cell[0] as f32 / n;
                self.fine[i] = cell[1] as f32 / n;
                self.coarse[i] = cell[2] as f32 / n;
                self.u[i] = data[uy + grid.cxs[cx]] as f32;
                self.v[i] = data[vy + grid.cxs[cx]] as f32;
            }
        }
        let textured = |cx: usize, cy: usize| self.coarse[cy * GW + cx] >= FLAT_ENERGY;
        for cy in 0..GH {
            for cx in 0..GW {
                self.visible[cy * GW + cx] = textured(cx, cy)
                    && textured(cx.saturating_sub(1), cy)
                    && textured((cx + 1).min(GW - 1), cy)
                    && textured(cx, cy.saturating_sub(1))
                    && textured(cx, (cy + 1).min(GH - 1));
            }
        }
        self.centred.set(&self.luma);
    }
}

/// Frame-level statistics of a sample.
#[derive(Debug, Clone, Copy)]
struct Stats {
    mean_luma: f32,
    median_luma: f32,
    /// Cells that are flat and within `FLAT_TOLERANCE` of the median luma.
    flat_fraction: f32,
    /// Cells darker than `black_luma`.
    black_fraction: f32,
    mean_fine: f32,
    mean_coarse: f32,
    /// `mean_fine / mean_coarse`: sharpness for blur, noisiness for snow.
    fine_ratio: f32,
    /// Distance of the mean (U, V) from grey (128, 128).
    cast: f32,
}

impl Stats {
    fn of(s: &Sample, black_luma: f32) -> Stats {
        let n = CELLS as f32;
        let mut hist = [0u32; 256];
        for &l in &s.luma {
            hist[l as usize] += 1;
        }
        let mut seen = 0;
        let median = hist
            .iter()
            .position(|&h| {
                seen += h;
                seen as usize * 2 >= CELLS
            })
            .unwrap_or(0) as f32;
        let flat = (0..CELLS)
            .filter(|&i| s.coarse[i] < FLAT_ENERGY && (s.luma[i] - median).abs() <= FLAT_TOLERANCE)
            .count();
        let black = s.luma.iter().filter(|&&l| l < black_luma).count();
        let mean = |v: &[f32]| v.iter().sum::<f32>() / n;
        let (mean_fine, mean_coarse) = (mean(&s.fine), mean(&s.coarse));
        Stats {
            mean_luma: mean(&s.luma),
            median_luma: median,
            flat_fraction: flat as f32 / n,
            black_fraction: black as f32 / n,
            mean_fine,
            mean_coarse,
            fine_ratio: if mean_coarse > 0.0 {
                mean_fine / mean_coarse
            } else {
                0.0
            },
            cast: (mean(&s.u) - 128.0).hypot(mean(&s.v) - 128.0),
        }
    }
}

/// The still picture `frozen` compares each sample with.
#[derive(Debug, Clone, Default)]
struct Still {
    anchor: Vec<f32>,
    /// When the anchor was taken: the picture has been still since.
    since: i64,
}

impl Still {
    /// Fraction of cells that moved away from the still picture; a picture that changed
    /// becomes the new still picture.
    fn update(&mut self, s: &Sample, cfg: &QualityConfig, t: i64) -> f32 {
        if self.anchor.is_empty() {
            self.anchor = s.luma.clone();
            self.since = t;
            return 1.0;
        }
        let moved = s
            .luma
            .iter()
            .zip(&self.anchor)
            .filter(|(a, b)| (*a - *b).abs() > cfg.frozen_cell_delta)
            .count();
        let changed = moved as f32 / CELLS as f32;
        if changed > cfg.frozen_max_changed {
            self.anchor.copy_from_slice(&s.luma);
            self.since = t;
        }
        changed
    }
}

/// What the camera normally looks like: views learned from its first `learn_s` of usable
/// video.
#[derive(Debug, Clone, Default)]
struct Reference {
    ready: bool,
    /// Time of the first usable sample.
    started: Option<i64>,
    samples: u32,
    views: Vec<View>,
}

/// One view: running means while learning, then fixed (but for `adapt`).
#[derive(Debug, Clone)]
struct View {
    samples: u32,
    luma: Vec<f32>,
    /// `luma` centred, kept up to date for fast correlation.
    centred: Centred,
    /// Running mean of the coarse energy while learning; emptied once learned.
    coarse: Vec<f32>,
    sharpness_sum: f32,
    sharpness_samples: u32,
    /// Once learned: mean fine / coarse ratio over the samples with enough structure.
    sharpness: Option<f32>,
    /// Once learned: the cells with texture, and their coarse energy.
    textured: Vec<u16>,
    textured_coarse: Vec<f32>,
}

impl View {
    fn new(s: &Sample) -> View {
        View {
            samples: 1,
            luma: s.luma.clone(),
            centred: s.centred.clone(),
            coarse: s.coarse.clone(),
            sharpness_sum: 0.0,
            sharpness_samples: 0,
            sharpness: None,
            textured: Vec::new(),
            textured_coarse: Vec::new(),
        }
    }

    /// Adds a learning sample to the running means.
    fn join(&mut self, s: &Sample) {
        self.samples += 1;
        let k = 1.0 / self.samples as f32;
        for i in 0..CELLS {
            self.luma[i] += (s.luma[i] - self.luma[i]) * k;
            self.coarse[i] += (s.coarse[i] - self.coarse[i]) * k;
        }
        self.centred.set(&self.luma);
    }

    fn finish(&mut self) {
        (self.textured, self.textured_coarse) = (0..CELLS)
            .filter(|&i| self.coarse[i] >= TEXTURED_ENERGY)
            .map(|i| (i as u16, self.coarse[i]))
            .unzip();
        self.coarse = Vec::new();
        self.sharpness = (self.sharpness_samples > 0)
            .then(|| self.sharpness_sum / self.sharpness_samples as f32);
    }

    /// Follows slow lighting changes of a well-matching picture.
    fn adapt(&mut self, s: &Sample) {
        for (r, l) in self.luma.iter_mut().zip(&s.luma) {
            *r += (l - *r) * ADAPT_RATE;
        }
        self.centred.set(&self.luma);
    }
}

/// A thumbnail minus its mean, with its norm: correlating two costs one dot product.
#[derive(Debug, Clone)]
struct Centred {
    values: Vec<f32>,
    norm: f32,
}

impl Default for Centred {
    fn default() -> Self {
        Centred {
            values: vec![0.0; CELLS],
            norm: 0.0,
        }
    }
}

impl Centred {
    fn set(&mut self, v: &[f32]) {
        let mean = v.iter().sum::<f32>() / v.len() as f32;
        for (c, x) in self.values.iter_mut().zip(v) {
            *c = x - mean;
        }
        self.norm = self.values.iter().map(|c| c * c).sum::<f32>().sqrt();
    }

    /// Normalised cross-correlation; 0 when either is flat.
    fn correlate(&self, other: &Centred) -> f32 {
        let norm = self.norm * other.norm;
        if norm < 1e-3 {
            return 0.0;
        }
        let dot: f32 = self
            .values
            .iter()
            .zip(&other.values)
            .map(|(a, b)| a * b)
            .sum();
        dot / norm
    }
}

/// Normalised cross-correlation of two thumbnails over the cells `keep` accepts; 0 when
/// either is flat there.
fn correlate_where(a: &[f32], b: &[f32], keep: &[bool]) -> f32 {
    let (mut n, mut sa, mut sb, mut ab, mut aa, mut bb) = (0.0f32, 0.0, 0.0, 0.0, 0.0, 0.0);
    for ((&x, &y), _) in a.iter().zip(b).zip(keep).filter(|(_, k)| **k) {
        n += 1.0;
        sa += x;
        sb += y;
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if n < 2.0 {
        return 0.0;
    }
    let cov = ab - sa * sb / n;
    let var = (aa - sa * sa / n) * (bb - sb * sb / n);
    if var > 1e-3 {
        cov / var.sqrt()
    } else {
        0.0
    }
}

/// The reference view a sample is compared with.
#[derive(Debug, Clone, Copy)]
struct Match {
    view: usize,
    /// Fraction of the view's textured cells that are flat in the sample.
    occluded: f32,
    /// Coarse energy of the view's textured cells that still have texture, relative to the
    /// view's: about 1 when part of the picture is covered, far below when all of it lost
    /// contrast (dark, foggy).
    visible_contrast: f32,
    /// Correlation with the view (over the visible cells when partly covered).
    similarity: f32,
}

impl Reference {
    /// The learned view that correlates best with `s`.
    fn best_view(&self, s: &Sample) -> Option<Match> {
        if !self.ready {
            return None;
        }
        self.views
            .iter()
            .enumerate()
            .map(|(view, v)| {
                let (mut hidden, mut now, mut then) = (0usize, 0.0f32, 0.0f32);
                for (&i, &c) in v.textured.iter().zip(&v.textured_coarse) {
                    let coarse = s.coarse[i as usize];
                    if coarse < FLAT_ENERGY {
                        hidden += 1;
                    } else {
                        now += coarse;
                        then += c;
                    }
                }
                let occluded = hidden as f32 / v.textured.len().max(1) as f32;
                // With much of the picture covered, only what is visible can be compared.
                let similarity = if occluded >= PARTLY_COVERED {
                    correlate_where(&v.luma, &s.luma, &s.visible)
                } else {
                    v.centred.correlate(&s.centred)
                };
                Match {
                    view,
                    occluded,
                    visible_contrast: if then > 0.0 { now / then } else { 0.0 },
                    similarity,
                }
            })
            .max_by(|a, b| a.similarity.total_cmp(&b.similarity))
    }

    /// The view closest to a learning sample.
    fn nearest(&self, s: &Sample) -> Option<(usize, f32)> {
        self.views
            .iter()
            .enumerate()
            .map(|(i, v)| (i, v.centred.correlate(&s.centred)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    fn learn(&mut self, s: &Sample, stats: &Stats, t: i64, camera: &str, cfg: &QualityConfig) {
        if self.ready {
            return;
        }
        let started = *self.started.get_or_insert(t);
        self.samples += 1;
        let view = match self.nearest(s) {
            Some((i, c)) if c >= VIEW_MATCH || self.views.len() == MAX_VIEWS => {
                self.views[i].join(s);
                i
            }
            _ => {
                self.views.push(View::new(s));
                self.views.len() - 1
            }
        };
        if stats.mean_coarse >= MIN_SHARPNESS_ENERGY {
            let v = &mut self.views[view];
            v.sharpness_sum += stats.fine_ratio;
            v.sharpness_samples += 1;
        }
        if (t - started) as f32 >= cfg.learn_s * 1000.0 && self.samples >= MIN_LEARN_SAMPLES {
            let min = (self.samples as f32 * MIN_VIEW_SHARE).ceil() as u32;
            self.views.retain(|v| v.samples >= min.max(2));
            if self.views.is_empty() {
                *self = Reference::default();
                return;
            }
            self.views.iter_mut().for_each(View::finish);
            self.ready = true;
            info!(
                camera,
                views = self.views.len(),
                samples = self.samples,
                "video quality reference learned"
            );
            for v in &self.views {
                debug!(camera, samples = v.samples, textured = v.textured.len(),
                       sharpness = ?v.sharpness, "reference view");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: usize = 320;
    const H: usize = 180;

    /// Deterministic hash noise in 0..256.
    fn hash(x: usize, y: usize, seed: u64) -> u8 {
        let mut h = (x as u64) << 32 ^ (y as u64) ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h as u8
    }

    /// A street-like scene: blocks of different brightness with fine texture, and a "car"
    /// driving through at `t_ms`.
    fn scene(seed: u64, t_ms: i64) -> Vec<u8> {
        thread_local! {
            static BACKGROUNDS: std::cell::RefCell<Vec<(u64, Vec<u8>)>> = Default::default();
        }
        let mut y = BACKGROUNDS.with_borrow_mut(|cache| {
            if let Some((_, bg)) = cache.iter().find(|(s, _)| *s == seed) {
                return bg.clone();
            }
            let bg: Vec<u8> = (0..W * H)
                .map(|i| {
                    let (x, y) = (i % W, i / W);
                    let block = hash(x / 24, y / 16, seed) as i32 / 2 + 50;
                    let fine = hash(x, y, seed + 1) as i32 / 16 - 8;
                    (block + fine).clamp(16, 235) as u8
                })
                .collect();
            cache.push((seed, bg.clone()));
            bg
        });
        let car_x = (t_ms / 20).rem_euclid(W as i64 + 60) as usize;
        for row in 120..150 {
            for x in car_x.saturating_sub(60)..car_x.min(W) {
                y[row * W + x] = 200 - (x % 7) as u8 * 10;
            }
        }
        y
    }

    /// A frame from a luma plane with neutral chroma `(u, v)`.
    fn frame(luma: &[u8], (u, v): (u8, u8), t_ms: i64) -> Frame {
        let mut data = luma.to_vec();
        data.resize(W * H + W * H / 4, u);
        data.resize(W * H + W * H / 2, v);
        Frame {
            captured_ms: t_ms,
            ..Frame::from_i420("cam", 0, W as u32, H as u32, data)
        }
    }

    fn flat(level: u8) -> Vec<u8> {
        vec![level; W * H]
    }

    /// Quick settings: reference in 5 s, raise after 1 s, clear after 1 s.
    fn fast() -> QualityConfig {
        QualityConfig {
            sample_interval_ms: 100,
            learn_s: 5.0,
            raise_after_s: 1.0,
            clear_after_s: 1.0,
            grace_s: 0.3,
            frozen_after_s: 2.0,
            scene_change_after_s: 2.0,
            ..QualityConfig::default()
        }
    }

    /// Feeds `picture(t)` at 10 fps (every frame is sampled) from `from` for `secs`; returns
    /// every event.
    fn run(
        m: &mut QualityMonitor,
        from: i64,
        secs: i64,
        picture: impl Fn(i64) -> Frame,
    ) -> Vec<QualityEvent> {
        (0..secs * 10)
            .flat_map(|i| m.push(&picture(from + i * 100)))
            .collect()
    }

    /// A monitor that learned the normal scene during its first 6 s.
    fn learned() -> QualityMonitor {
        let mut m = QualityMonitor::new("cam", fast());
        let events = run(&mut m, 0, 6, |t| frame(&scene(1, t), (128, 128), t));
        assert_eq!(events, []);
        assert_eq!(m.reference_views(), Some(1));
        m
    }

    fn active(m: &QualityMonitor) -> Vec<QualityKind> {
        m.active().iter().map(|d| d.kind).collect()
    }

    fn raised(events: &[QualityEvent]) -> Vec<QualityKind> {
        events
            .iter()
            .filter(|e| e.raised())
            .map(|e| e.kind())
            .collect()
    }

    /// `fault` from 6 s on must raise exactly `kind`, and clear once the scene is back.
    fn assert_diagnosed(kind: QualityKind, fault: impl Fn(i64) -> Frame) {
        let mut m = learned();
        let events = run(&mut m, 6_000, 3, fault);
        assert_eq!(raised(&events), [kind], "{:#?}", m.status());
        assert_eq!(active(&m), [kind]);
        let d = &m.status()[kind.index()];
        assert_eq!(d.since_ms, Some(6_000), "{d:?}");
        let raised_at = events[0].at_ms;
        let persistence = match kind {
            QualityKind::Frozen => fast().frozen_after_s,
            QualityKind::SceneChange => fast().scene_change_after_s,
            _ => fast().raise_after_s,
        };
        assert!(
            raised_at - 6_000 >= (persistence * 1000.0) as i64,
            "{raised_at}"
        );

        let events = run(&mut m, 9_000, 3, |t| frame(&scene(1, t), (128, 128), t));
        assert_eq!(events.len(), 1, "{events:#?}");
        assert!(!events[0].raised() && events[0].kind() == kind);
        assert_eq!(active(&m), []);
    }

    #[test]
    fn normal_scene_with_traffic_raises_nothing() {
        let mut m = learned();
        let events = run(&mut m, 6_000, 30, |t| frame(&scene(1, t), (128, 128), t));
        assert_eq!(events, []);
        let status = m.status();
        assert_eq!(status.len(), QualityKind::ALL.len());
        for d in &status {
            assert!(
                d.score.is_some() && !d.active && d.since_ms.is_none(),
                "{d:?}"
            );
        }
        let sharpness = status[QualityKind::Blur.index()].score.unwrap();
        assert!((0.8..1.25).contains(&sharpness), "{sharpness}");
        let similarity = status[QualityKind::SceneChange.index()].score.unwrap();
        assert!(similarity > 0.8, "{similarity}");
    }

    #[test]
    fn flat_screens_are_signal_loss_or_black() {
        // A blue "no signal" screen with an on-screen clock in a corner.
        assert_diagnosed(QualityKind::SignalLoss, |t| {
            let mut y = flat(41);
            for row in 4..14 {
                for x in 8..110 {
                    y[row * W + x] = if (x / 3 + row) % 4 == 0 { 235 } else { 41 };
                }
            }
            frame(&y, (240, 110), t)
        });
        assert_diagnosed(QualityKind::SignalLoss, |t| {
            frame(&flat(128), (128, 128), t)
        });
        assert_diagnosed(QualityKind::BlackScreen, |t| {
            frame(&flat(16), (128, 128), t)
        });
    }

    #[test]
    fn snow_is_noise() {
        assert_diagnosed(QualityKind::Noise, |t| {
            let y: Vec<u8> = (0..W * H).map(|i| hash(i, t as usize, 7)).collect();
            frame(&y, (128, 128), t)
        });
    }

    #[test]
    fn still_picture_is_frozen_and_flat_one_is_not() {
        assert_diagnosed(QualityKind::Frozen, |t| {
            frame(&scene(1, 5_000), (128, 128), t)
        });
        // A re-encoded still picture wobbles by a level or two: still frozen.
        assert_diagnosed(QualityKind::Frozen, |t| {
            let wobble = (t / 1000 % 2) as u8;
            let y: Vec<u8> = scene(1, 5_000).iter().map(|p| p + wobble).collect();
            frame(&y, (128, 128), t)
        });
    }

    #[test]
    fn covered_lens_is_occlusion_not_darkness_or_scene_change() {
        assert_diagnosed(QualityKind::Occlusion, |t| {
            let mut y = scene(1, t);
            for (i, p) in y.iter_mut().enumerate() {
                if i % W < W * 3 / 5 {
                    *p = 20;
                }
            }
            frame(&y, (128, 128), t)
        });
    }

    /// Box blur of radius `r` along both axes.
    fn blurred(y: &[u8], r: usize) -> Vec<u8> {
        let pass = |src: &[u8], step: usize, len: usize, lines: usize, stride: usize| {
            let mut out = src.to_vec();
            for line in 0..lines {
                for i in 0..len {
                    let (lo, hi) = (i.saturating_sub(r), (i + r).min(len - 1));
                    let sum: u32 = (lo..=hi)
                        .map(|j| src[line * stride + j * step] as u32)
                        .sum();
                    out[line * stride + i * step] = (sum / (hi - lo + 1) as u32) as u8;
                }
            }
            out
        };
        let h = pass(y, 1, W, H, W);
        pass(&h, W, H, W, 1)
    }

    #[test]
    fn defocus_is_blur() {
        assert_diagnosed(QualityKind::Blur, |t| {
            frame(&blurred(&scene(1, t), 4), (128, 128), t)
        });
    }

    #[test]
    fn moved_camera_is_scene_change() {
        assert_diagnosed(QualityKind::SceneChange, |t| {
            frame(&scene(2, t), (128, 128), t)
        });
    }

    #[test]
    fn exposure_and_colour() {
        let scaled = |k: f32, t: i64| -> Vec<u8> {
            scene(1, t)
                .iter()
                .map(|&p| (16.0 + (p as f32 - 16.0) * k).min(255.0) as u8)
                .collect()
        };
        assert_diagnosed(QualityKind::TooDark, |t| {
            frame(&scaled(0.15, t), (128, 128), t)
        });
        assert_diagnosed(QualityKind::TooBright, |t| {
            let y: Vec<u8> = scene(1, t).iter().map(|p| p / 4 + 200).collect();
            frame(&y, (128, 128), t)
        });
        assert_diagnosed(QualityKind::ColourCast, |t| {
            frame(&scene(1, t), (100, 150), t)
        });
    }

    #[test]
    fn short_faults_and_short_gaps_do_not_flap() {
        let mut m = learned();
        let black = |t| frame(&flat(16), (128, 128), t);
        let normal = |t| frame(&scene(1, t), (128, 128), t);
        // Black for 0.8 s (< raise_after), twice with 2 s of picture between: nothing.
        let mut events = run(&mut m, 6_000, 1, |t| {
            if t < 6_800 {
                black(t)
            } else {
                normal(t)
            }
        });
        events.extend(run(&mut m, 7_000, 2, normal));
        events.extend(run(&mut m, 9_000, 1, |t| {
            if t < 9_800 {
                black(t)
            } else {
                normal(t)
            }
        }));
        assert_eq!(events, []);
        // Black with a 0.2 s glitch of picture (< grace_s) is raised from its real start.
        assert_eq!(run(&mut m, 10_000, 1, normal), []);
        let events = run(&mut m, 11_000, 2, |t| {
            if (11_500..11_700).contains(&t) {
                normal(t)
            } else {
                black(t)
            }
        });
        assert_eq!(raised(&events), [QualityKind::BlackScreen]);
        assert!(events[0].at_ms < 12_200, "{}", events[0].at_ms);
        assert_eq!(
            m.status()[QualityKind::BlackScreen.index()].since_ms,
            Some(11_000)
        );
        // A 0.5 s flash of picture (< clear_after) does not clear it; 1 s of picture does.
        let events = run(&mut m, 13_000, 1, |t| {
            if t < 13_500 {
                normal(t)
            } else {
                black(t)
            }
        });
        assert_eq!(events, []);
        let events = run(&mut m, 14_000, 2, normal);
        assert_eq!(events.len(), 1);
        assert!(!events[0].raised());
        assert_eq!(events[0].at_ms, 14_900);
    }

    #[test]
    fn samples_at_the_configured_rate_and_survives_clock_steps() {
        let mut m = QualityMonitor::new("cam", fast());
        // 60 frames within 0.6 s of timestamps: 6 samples, too few for a reference even after
        // the learning time.
        for i in 0..60 {
            m.push(&frame(&scene(1, i * 10), (128, 128), i * 10));
        }
        m.push(&frame(&scene(1, 0), (128, 128), 5_000));
        assert_eq!(m.reference_views(), None);
        // The clock steps back an hour: time goes on from where it was.
        let events = run(&mut m, 1_000 - 3_600_000, 5, |t| {
            frame(&scene(1, t), (128, 128), t)
        });
        assert_eq!(events, []);
        assert_eq!(m.reference_views(), Some(1));
        let events = run(&mut m, 6_000 - 3_600_000, 2, |t| {
            frame(&flat(16), (128, 128), t)
        });
        assert_eq!(raised(&events), [QualityKind::BlackScreen]);
        // Reported on the frames' own clock.
        let since = m.status()[QualityKind::BlackScreen.index()].since_ms;
        assert_eq!(since, Some(6_000 - 3_600_000));
    }

    #[test]
    fn new_picture_size_learns_again() {
        let mut m = learned();
        let small = Frame::from_i420("cam", 0, 64, 48, vec![100; 64 * 48 * 3 / 2]);
        m.push(&Frame {
            captured_ms: 6_000,
            ..small
        });
        assert_eq!(m.reference_views(), None);
        let tiny = Frame::from_i420("cam", 0, 16, 16, vec![16; 16 * 16 * 3 / 2]);
        assert_eq!(m.push(&tiny), []);
        m.relearn();
        assert_eq!(m.reference_views(), None);
    }

    #[test]
    fn config_defaults_and_errors() {
        use serde::de::value::{Error as DeError, MapDeserializer};
        use serde::de::IntoDeserializer;
        let parse = |pairs: &[(&'static str, f64)]| {
            let map = pairs.iter().map(|&(k, v)| (k, v.into_deserializer()));
            QualityConfig::deserialize(MapDeserializer::<_, DeError>::new(map))
        };
        assert_eq!(parse(&[]).unwrap(), QualityConfig::default());
        let cfg = parse(&[("dark_luma", 30.0), ("raise_after_s", 5.0)]).unwrap();
        assert_eq!((cfg.dark_luma, cfg.raise_after_s), (30.0, 5.0));
        assert_eq!(cfg.blur_max, QualityConfig::default().blur_max);
        let e = parse(&[("blurr_max", 0.5)]).unwrap_err().to_string();
        assert!(e.contains("blurr_max") && e.contains("blur_max"), "{e}");
        let e = parse(&[("black_min", 1.5)]).unwrap_err().to_string();
        assert!(e.contains("1.5") && e.contains("fraction"), "{e}");
        let e = parse(&[("clear_after_s", -1.0)]).unwrap_err().to_string();
        assert!(e.contains("seconds"), "{e}");
    }

    #[test]
    fn kinds_have_stable_names() {
        let names: Vec<_> = QualityKind::ALL.iter().map(|k| k.to_string()).collect();
        assert_eq!(
            names,
            [
                "signal_loss",
                "black_screen",
                "noise",
                "frozen",
                "occlusion",
                "blur",
                "scene_change",
                "too_dark",
                "too_bright",
                "colour_cast"
            ]
        );
        for (i, k) in QualityKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
        }
    }
}
