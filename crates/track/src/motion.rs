//! The motion model of one track: a constant-velocity Kalman filter over the box centre and
//! size, and a least-squares fit of the centre over time for the direction of travel.
//!
//! The state is (cx, cy, w, h) and their velocities, as in SORT/ByteTrack, but with time in
//! seconds rather than frames: analysis runs at an irregular rate (frames are dropped under load),
//! so every prediction is made to the frame's timestamp. Process noise is a continuous white
//! acceleration, measurement noise a fixed share of the box size, so the filter behaves the same
//! for near and far vehicles. With diagonal noise the four axes never couple, so the 8×8 filter is
//! exactly four independent 2×2 filters ([`Axis`]); this keeps it small and free of a matrix
//! crate. Invariant: each axis covariance stays symmetric positive semi-definite (the velocity
//! variance is clamped at 0 against rounding).
//!
//! Performance: a handful of flops per track per frame.

use base::BBox;

/// Measurement noise: standard deviation of a detected box edge, as a share of the box size.
const MEAS_STD: f64 = 0.05;
/// Position random walk per √second, as a share of the box size (absorbs box jitter).
const POS_DIFFUSION: f64 = 0.25;
/// Initial velocity uncertainty of a new track, box sizes per second.
const INIT_VEL_STD: f64 = 2.0;

/// One coordinate and its velocity, with their covariance.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Axis {
    pos: f64,
    vel: f64,
    pp: f64,
    pv: f64,
    vv: f64,
}

impl Axis {
    fn new(z: f64, size: f64) -> Self {
        Axis {
            pos: z,
            vel: 0.0,
            pp: (MEAS_STD * size).powi(2),
            pv: 0.0,
            vv: (INIT_VEL_STD * size).powi(2),
        }
    }

    /// Moves the state `dt` seconds ahead; `accel` is the acceleration noise in px/s².
    fn predict(&mut self, dt: f64, accel: f64, size: f64) {
        let q = accel * accel;
        let (pp, pv, vv) = (self.pp, self.pv, self.vv);
        self.pos += self.vel * dt;
        self.pp = pp
            + 2.0 * dt * pv
            + dt * dt * vv
            + q * dt.powi(3) / 3.0
            + (POS_DIFFUSION * size).powi(2) * dt;
        self.pv = pv + dt * vv + q * dt * dt / 2.0;
        self.vv = vv + q * dt;
    }

    fn update(&mut self, z: f64, size: f64) {
        let r = (MEAS_STD * size).powi(2);
        let s = self.pp + r;
        let (k0, k1) = (self.pp / s, self.pv / s);
        let y = z - self.pos;
        self.pos += k0 * y;
        self.vel += k1 * y;
        let (pp, pv, vv) = (self.pp, self.pv, self.vv);
        self.pp = (1.0 - k0) * pp;
        self.pv = (1.0 - k0) * pv;
        self.vv = (vv - k1 * pv).max(0.0);
    }
}

/// Constant-velocity Kalman filter of one box.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Motion {
    /// cx, cy, w, h.
    axes: [Axis; 4],
    /// Time of the state, Unix ms.
    at_ms: i64,
    /// Acceleration noise in box sizes per s².
    accel: f64,
}

impl Motion {
    pub(crate) fn new(t_ms: i64, b: &BBox, accel: f32) -> Self {
        let [cx, cy, w, h] = measure(b);
        Motion {
            axes: [
                Axis::new(cx, w),
                Axis::new(cy, h),
                Axis::new(w, w),
                Axis::new(h, h),
            ],
            at_ms: t_ms,
            accel: f64::from(accel),
        }
    }

    fn sizes(&self) -> [f64; 4] {
        let w = self.axes[2].pos.max(1.0);
        let h = self.axes[3].pos.max(1.0);
        [w, h, w, h]
    }

    /// Advances the state to `t_ms`; a timestamp in the past leaves it where it is.
    pub(crate) fn predict(&mut self, t_ms: i64) {
        let dt = (t_ms - self.at_ms).max(0) as f64 / 1000.0;
        if dt > 0.0 {
            let sizes = self.sizes();
            for (a, size) in self.axes.iter_mut().zip(sizes) {
                a.predict(dt, self.accel * size, size);
            }
            self.at_ms = t_ms;
        }
    }

    pub(crate) fn update(&mut self, b: &BBox) {
        let sizes = self.sizes();
        for ((a, z), size) in self.axes.iter_mut().zip(measure(b)).zip(sizes) {
            a.update(z, size);
        }
    }

    /// The box where the filter expects the vehicle now.
    pub(crate) fn bbox(&self) -> BBox {
        let [cx, cy, w, h] = self.axes.map(|a| a.pos);
        let (w, h) = (w.max(1.0), h.max(1.0));
        BBox {
            x1: (cx - w / 2.0) as f32,
            y1: (cy - h / 2.0) as f32,
            x2: (cx + w / 2.0) as f32,
            y2: (cy + h / 2.0) as f32,
        }
    }

    /// Standard deviation of the predicted centre, (x, y) in px.
    pub(crate) fn centre_std(&self) -> (f32, f32) {
        (
            self.axes[0].pp.max(0.0).sqrt() as f32,
            self.axes[1].pp.max(0.0).sqrt() as f32,
        )
    }

    /// Estimated centre velocity, px/s.
    #[cfg(test)]
    pub(crate) fn velocity(&self) -> (f64, f64) {
        (self.axes[0].vel, self.axes[1].vel)
    }
}

fn measure(b: &BBox) -> [f64; 4] {
    let (x1, y1, x2, y2) = (
        f64::from(b.x1),
        f64::from(b.y1),
        f64::from(b.x2),
        f64::from(b.y2),
    );
    [(x1 + x2) / 2.0, (y1 + y2) / 2.0, x2 - x1, y2 - y1]
}

/// Least-squares line through the detected box centres over time: the mean velocity of a track,
/// robust to detection jitter, independent of the filter's tuning.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Travel {
    t0_ms: Option<i64>,
    n: f64,
    st: f64,
    stt: f64,
    sx: f64,
    stx: f64,
    sy: f64,
    sty: f64,
    size: f64,
}

impl Travel {
    pub(crate) fn add(&mut self, t_ms: i64, b: &BBox) {
        let t0 = *self.t0_ms.get_or_insert(t_ms);
        let t = (t_ms - t0) as f64 / 1000.0;
        let [cx, cy, w, h] = measure(b);
        self.n += 1.0;
        self.st += t;
        self.stt += t * t;
        self.sx += cx;
        self.stx += t * cx;
        self.sy += cy;
        self.sty += t * cy;
        self.size += (w * h).max(0.0).sqrt();
    }

    /// Direction of travel in degrees clockwise from up the image, when the fitted displacement
    /// over `duration_ms` is at least `min_travel` mean box sizes.
    pub(crate) fn direction_deg(&self, duration_ms: i64, min_travel: f32) -> Option<f32> {
        let d = self.n * self.stt - self.st * self.st;
        if self.n < 2.0 || d <= 1e-9 {
            return None;
        }
        let vx = (self.n * self.stx - self.st * self.sx) / d;
        let vy = (self.n * self.sty - self.st * self.sy) / d;
        let dist = vx.hypot(vy) * duration_ms as f64 / 1000.0;
        if dist < f64::from(min_travel) * self.size / self.n {
            return None;
        }
        // Image y grows downwards, so "up" is -y.
        Some((vx.atan2(-vy).to_degrees().rem_euclid(360.0)) as f32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bx(cx: f32, cy: f32, w: f32, h: f32) -> BBox {
        BBox {
            x1: cx - w / 2.0,
            y1: cy - h / 2.0,
            x2: cx + w / 2.0,
            y2: cy + h / 2.0,
        }
    }

    #[test]
    fn filter_learns_velocity_at_irregular_times() {
        let mut m = Motion::new(0, &bx(100.0, 200.0, 80.0, 60.0), 1.0);
        // 150 px/s right, 40 px/s down, frames 90–260 ms apart.
        let mut t = 0;
        for dt in [120, 260, 90, 200, 180, 240, 100, 210, 230, 150] {
            t += dt;
            let s = t as f32 / 1000.0;
            m.predict(t);
            m.update(&bx(100.0 + 150.0 * s, 200.0 + 40.0 * s, 80.0, 60.0));
        }
        let (vx, vy) = m.velocity();
        assert!((vx - 150.0).abs() < 10.0, "{vx}");
        assert!((vy - 40.0).abs() < 10.0, "{vy}");
        // Predicting half a second ahead puts the box where the vehicle will be.
        m.predict(t + 500);
        let p = m.bbox();
        let truth = bx(
            100.0 + 150.0 * (t + 500) as f32 / 1000.0,
            200.0 + 40.0 * (t + 500) as f32 / 1000.0,
            80.0,
            60.0,
        );
        assert!(p.iou(&truth) > 0.8, "{p:?} vs {truth:?}");
    }

    #[test]
    fn uncertainty_grows_while_unseen_and_shrinks_when_seen() {
        let mut m = Motion::new(0, &bx(100.0, 100.0, 50.0, 50.0), 1.0);
        for i in 1..10 {
            m.predict(i * 100);
            m.update(&bx(100.0, 100.0, 50.0, 50.0));
        }
        let seen = m.centre_std().0;
        m.predict(2000);
        let unseen = m.centre_std().0;
        assert!(unseen > 3.0 * seen, "{seen} -> {unseen}");
        // Time going backwards changes nothing.
        let before = m.clone();
        m.predict(1500);
        assert_eq!(m, before);
    }

    #[test]
    fn direction_is_clockwise_from_up() {
        let dir = |dx: f32, dy: f32| {
            let mut t = Travel::default();
            for i in 0..5 {
                let s = i as f32;
                t.add(
                    i64::from(i) * 200,
                    &bx(300.0 + dx * s, 300.0 + dy * s, 40.0, 40.0),
                );
            }
            t.direction_deg(800, 0.5)
        };
        let near = |got: Option<f32>, want: f32| {
            let got = got.expect("moving");
            let diff = (got - want + 540.0).rem_euclid(360.0) - 180.0;
            assert!(diff.abs() < 1.0, "{got} vs {want}");
        };
        near(dir(0.0, -20.0), 0.0);
        near(dir(20.0, 0.0), 90.0);
        near(dir(20.0, 20.0), 135.0);
        near(dir(0.0, 20.0), 180.0);
        near(dir(-20.0, 0.0), 270.0);
        // Jitter of a parked car is no direction.
        assert_eq!(dir(1.0, 1.0), None);
        assert_eq!(Travel::default().direction_deg(1000, 0.5), None);
    }
}
