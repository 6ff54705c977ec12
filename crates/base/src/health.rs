//! Camera health as the edge that pulls a camera sees it, and as it travels upward.
//!
//! A [`HealthReport`] is a snapshot of every camera of one edge node. Reports are superseded,
//! not accumulated: a platform keeps the latest per camera, and an outbox keeps only the newest
//! unsent report of its node. Durations ("offline for 2 h") are computed from the `since_ms`
//! fields, so they stay right however late a report arrives.

/// Where a camera's supervisor is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum CameraState {
    #[default]
    Unknown,
    Connecting,
    Online,
    Offline,
}

impl CameraState {
    pub fn name(self) -> &'static str {
        match self {
            CameraState::Unknown => "unknown",
            CameraState::Connecting => "connecting",
            CameraState::Online => "online",
            CameraState::Offline => "offline",
        }
    }
    pub fn code(self) -> i32 {
        self as i32
    }
    pub fn from_code(code: i32) -> Self {
        match code {
            1 => CameraState::Connecting,
            2 => CameraState::Online,
            3 => CameraState::Offline,
            _ => CameraState::Unknown,
        }
    }
}

impl std::fmt::Display for CameraState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One active video-quality problem (black screen, frozen, blur, …).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Diagnosis {
    /// Stable lower-case name, e.g. `black`, `frozen`, `blur`, `scene_change`.
    pub kind: String,
    pub score: f32,
    pub threshold: f32,
    /// When the problem started (camera frame time on the edge), Unix ms.
    pub since_ms: i64,
}

/// The health of one camera.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct CameraHealth {
    pub camera: String,
    pub state: CameraState,
    /// When `state` was entered, Unix ms.
    pub since_ms: i64,
    /// Why the camera is not online (URL passwords redacted); empty when online.
    pub reason: String,
    pub frames_decoded: u64,
    pub reconnects: u64,
    pub decode_errors: u64,
    /// Frames per second measured recently, and what the stream declares (0 when unknown).
    pub fps: f64,
    pub expected_fps: f64,
    /// Compressed bitrate measured recently, kbit/s.
    pub bitrate_kbps: f64,
    /// Wall clock of the last decoded frame, Unix ms (0 if none yet).
    pub last_frame_ms: i64,
    pub codec: String,
    pub width: u32,
    pub height: u32,
    /// Camera clock minus node clock, when the stream carries camera time.
    pub clock_skew_ms: Option<i64>,
    /// Active video-quality problems.
    pub diagnoses: Vec<Diagnosis>,
}

impl CameraHealth {
    /// Online, and no video-quality problem.
    pub fn is_healthy(&self) -> bool {
        self.state == CameraState::Online && self.diagnoses.is_empty()
    }
}

/// Every camera of one edge node at one moment.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct HealthReport {
    /// The edge node that pulls these cameras.
    pub node: String,
    /// The first platform that received the report (the county); set by that platform.
    pub county: String,
    pub at_ms: i64,
    pub cameras: Vec<CameraHealth>,
}
