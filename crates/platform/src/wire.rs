//! Investigators' answers from the store's types to the wire (`xueliang.v1`): coverage and
//! gaps, trajectory stops, co-occurring vehicles, companions, first entries, cloned-plate
//! evidence and similar sightings. The proto crate does not know the store, so these live
//! here, next to the only service that sends them. Conversions are total: every store value
//! has a wire form.

use base::SightingKey;
use proto::v1;

pub fn key(k: &SightingKey) -> v1::SightingKey {
    v1::SightingKey {
        origin: k.origin.clone(),
        seq: k.seq,
    }
}

pub fn coverage(c: &store::Coverage) -> v1::Coverage {
    v1::Coverage {
        all_cameras: c.cameras.is_none(),
        cameras: c.cameras.clone().unwrap_or_default(),
        from_ms: c.from_ms,
        to_ms: c.to_ms,
        gaps: c
            .gaps
            .iter()
            .map(|g| v1::Gap {
                camera: g.camera.clone(),
                from_ms: g.from_ms,
                to_ms: g.to_ms,
                state: g.state.name().to_owned(),
                degraded: g.degraded.clone(),
                reason: g.reason.clone(),
            })
            .collect(),
    }
}

pub fn stop(s: &store::Stop) -> v1::Stop {
    v1::Stop {
        sighting: Some(v1::Sighting::from(&s.sighting)),
        county: s.county.clone().unwrap_or_default(),
        lat: s.position.map(|p| p.0),
        lon: s.position.map(|p| p.1),
        similarity: s.similarity,
    }
}

pub fn vehicle(v: &store::Vehicle) -> v1::Vehicle {
    v1::Vehicle {
        plate: v.plate.clone().unwrap_or_default(),
        class: v.class.code(),
        color: v.color.code(),
        windows: v.windows.iter().map(|&w| w as u32).collect(),
        sightings: v.sightings.iter().map(key).collect(),
        similarity: v.similarity,
        score: v.score,
    }
}

pub fn companion(c: &store::Companion) -> v1::Companion {
    v1::Companion {
        plate: c.plate.clone(),
        times: c.times as u32,
        cameras: c.cameras as u32,
        sightings: c.sightings.iter().map(key).collect(),
    }
}

pub fn entry(e: &store::Entry) -> v1::Entry {
    v1::Entry {
        plate: e.plate.clone(),
        sighting: Some(key(&e.sighting)),
        camera: e.camera.clone(),
        pass_time_ms: e.pass_time_ms,
    }
}

pub fn cloned(p: &store::ClonedPlate) -> v1::ClonedPlate {
    let evidence = p
        .evidence
        .iter()
        .map(|e| match e {
            store::CloneEvidence::Speed {
                from,
                to,
                from_camera,
                to_camera,
                km,
                seconds,
                kmh,
            } => v1::CloneEvidence {
                kind: "speed".into(),
                a: Some(key(from)),
                b: Some(key(to)),
                a_camera: from_camera.clone(),
                b_camera: to_camera.clone(),
                km: *km,
                seconds: *seconds,
                kmh: *kmh,
                ..Default::default()
            },
            store::CloneEvidence::Appearance { a, b, what, cosine } => v1::CloneEvidence {
                kind: "appearance".into(),
                a: Some(key(a)),
                b: Some(key(b)),
                what: what.clone(),
                cosine: *cosine,
                ..Default::default()
            },
        })
        .collect();
    v1::ClonedPlate {
        plate: p.plate.clone(),
        sightings: p.sightings as u64,
        evidence,
    }
}

pub fn similar(s: &store::Similar) -> v1::SimilarSighting {
    v1::SimilarSighting {
        sighting: Some(v1::Sighting::from(&s.sighting)),
        cosine: s.cosine,
    }
}
