//! The vocabulary investigators search by: vehicle class, vehicle colour, plate colour and plate
//! state. Each has a stable lower-case name (used in configs, the CLI, JSON and SQLite) and a
//! stable small integer (used on the wire, see `proto/xueliang/v1/sighting.proto`).

use std::fmt;
use std::str::FromStr;

/// A name that is not in one of the vocabularies; the message lists the valid names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {name:?}; expected one of: {expected}")]
pub struct UnknownName {
    pub kind: &'static str,
    pub name: String,
    pub expected: String,
}

macro_rules! vocab {
    ($(#[$doc:meta])* $ty:ident, $kind:literal, { $($variant:ident = $code:literal, $name:literal;)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default,
                 serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $ty {
            #[default]
            $($variant,)+
        }

        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant,)+];

            pub fn name(self) -> &'static str {
                match self { $($ty::$variant => $name,)+ }
            }
            pub fn code(self) -> i32 {
                match self { $($ty::$variant => $code,)+ }
            }
            /// Unknown codes map to the default (first) variant.
            pub fn from_code(code: i32) -> Self {
                match code { $($code => $ty::$variant,)+ _ => $ty::default() }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl FromStr for $ty {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, UnknownName> {
                let lower = s.trim().to_ascii_lowercase();
                $(if lower == $name { return Ok($ty::$variant); })+
                Err(UnknownName {
                    kind: $kind,
                    name: s.to_owned(),
                    expected: [$($name),+].join(", "),
                })
            }
        }
    };
}

vocab!(
    /// What kind of vehicle a sighting is. The first four come straight from the COCO detector;
    /// the finer kinds (SUV, pickup, van) come from the attribute classifier.
    VehicleClass, "vehicle class", {
        Unknown = 0, "unknown";
        Car = 1, "car";
        Suv = 2, "suv";
        Pickup = 3, "pickup";
        Van = 4, "van";
        Bus = 5, "bus";
        Truck = 6, "truck";
        Motorcycle = 7, "motorcycle";
        Bicycle = 8, "bicycle";
    }
);

impl VehicleClass {
    /// Maps a COCO-80 class index to a vehicle class; `None` for everything that is not a vehicle.
    pub fn from_coco(index: usize) -> Option<Self> {
        match index {
            1 => Some(VehicleClass::Bicycle),
            2 => Some(VehicleClass::Car),
            3 => Some(VehicleClass::Motorcycle),
            5 => Some(VehicleClass::Bus),
            7 => Some(VehicleClass::Truck),
            _ => None,
        }
    }
}

vocab!(
    /// Body colour of a vehicle (GA/T 1400 VehicleColor).
    VehicleColor, "vehicle colour", {
        Unknown = 0, "unknown";
        White = 1, "white";
        Black = 2, "black";
        Grey = 3, "grey";
        Red = 4, "red";
        Blue = 5, "blue";
        Yellow = 6, "yellow";
        Green = 7, "green";
        Brown = 8, "brown";
        Orange = 9, "orange";
        Purple = 10, "purple";
    }
);

vocab!(
    /// Background colour of a Chinese licence plate (GA/T 1400 PlateColor).
    PlateColor, "plate colour", {
        Unknown = 0, "unknown";
        Blue = 1, "blue";
        Yellow = 2, "yellow";
        Green = 3, "green";
        White = 4, "white";
        Black = 5, "black";
    }
);

vocab!(
    /// What the edge could say about the plate of a vehicle.
    PlateState, "plate state", {
        NotAnalysed = 0, "not_analysed";
        Read = 1, "read";
        Unreadable = 2, "unreadable";
        Covered = 3, "covered";
        None = 4, "none";
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_round_trip() {
        for c in VehicleClass::ALL {
            assert_eq!(c.name().parse::<VehicleClass>().unwrap(), *c);
            assert_eq!(VehicleClass::from_code(c.code()), *c);
        }
        for s in PlateState::ALL {
            assert_eq!(s.name().parse::<PlateState>().unwrap(), *s);
        }
    }

    #[test]
    fn unknown_name_lists_valid_ones() {
        let err = "plane".parse::<VehicleClass>().unwrap_err();
        assert!(err.to_string().contains("car, suv"), "{err}");
    }

    #[test]
    fn coco_vehicle_classes() {
        assert_eq!(VehicleClass::from_coco(2), Some(VehicleClass::Car));
        assert_eq!(VehicleClass::from_coco(7), Some(VehicleClass::Truck));
        assert_eq!(VehicleClass::from_coco(0), None);
    }
}
