//! Standing questions (布控): a [`Filter`] without its time range, held by a platform and
//! checked against every sighting as it is committed there, so a subscriber hears of a match at
//! once. The scope (cameras, counties, regions) is resolved to camera ids once, when the watch
//! is made; a check is then a few comparisons and, for a plate pattern, one glob — cheap enough
//! for every arriving sighting.

use base::{PlateState, Sighting};

use super::filter::{resolve_scope, Filter, Scope};
use crate::{Error, Store};

/// One standing question.
#[derive(Debug, Clone)]
pub struct Watch {
    pub name: String,
    filter: Filter,
    scope: Scope,
}

impl Watch {
    /// Whether `s` is what the watch is about (its time is not considered).
    pub fn matches(&self, s: &Sighting) -> bool {
        let f = &self.filter;
        self.scope
            .as_ref()
            .is_none_or(|cams| cams.contains(&s.camera))
            && (f.classes.is_empty() || f.classes.contains(&s.class))
            && (f.colors.is_empty() || f.colors.contains(&s.color))
            && (f.plate_states.is_empty() || f.plate_states.contains(&s.plate.state))
            && f.plate.as_ref().is_none_or(|p| {
                s.plate.state == PlateState::Read
                    && s.plate.text.as_deref().is_some_and(|t| p.matches(t))
            })
    }
}

impl Store {
    /// Makes a watch of `filter` (its time range is ignored), resolving its scope now.
    pub fn watch(&self, name: impl Into<String>, filter: Filter) -> Result<Watch, Error> {
        let scope = {
            let conn = self.conn();
            resolve_scope(&conn, &filter).map_err(self.sql("resolve watch scope"))?
        };
        Ok(Watch {
            name: name.into(),
            filter,
            scope,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::investigate::testutil::{at, plated, town};
    use crate::{PlatePattern, Region};
    use base::{VehicleClass, VehicleColor};

    #[test]
    fn watches_match_plate_patterns_attributes_and_regions() {
        let store = town();
        let by_plate = store
            .watch(
                "晋M*23*",
                Filter {
                    plate: Some(PlatePattern::exact("晋M*23*").unwrap()),
                    ..Default::default()
                },
            )
            .unwrap();
        assert!(by_plate.matches(&plated("晋MA2345", "c-far", at(0))));
        assert!(!by_plate.matches(&plated("晋MA4545", "c-far", at(0))));
        let mut covered = plated("晋MA2345", "c-far", at(0));
        covered.plate.state = PlateState::Covered;
        assert!(!by_plate.matches(&covered), "a pattern needs a read plate");

        // A white SUV with a covered plate anywhere in the 盐湖区 polygon.
        let ring = Region::new(
            "ring",
            vec![(35.0, 110.9), (35.0, 111.1), (35.2, 111.1), (35.2, 110.9)],
        );
        let suv = store
            .watch(
                "white SUV, covered, in the ring",
                Filter {
                    regions: vec![ring],
                    classes: vec![VehicleClass::Suv],
                    colors: vec![VehicleColor::White],
                    plate_states: vec![PlateState::Covered],
                    ..Default::default()
                },
            )
            .unwrap();
        let mut s = plated("晋MA2345", "c-east", at(0));
        s.class = VehicleClass::Suv;
        s.color = VehicleColor::White;
        s.plate = base::PlateRead {
            state: PlateState::Covered,
            ..Default::default()
        };
        assert!(suv.matches(&s));
        s.camera = "c-far".into();
        assert!(!suv.matches(&s), "outside the region");
        s.camera = "c-north".into();
        s.color = VehicleColor::Black;
        assert!(!suv.matches(&s), "another colour");
    }
}
