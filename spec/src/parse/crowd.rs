//! Converts the crowd steps (see [`StepArea::Crowd`](crate::StepArea::Crowd)): storms of
//! connects, held connections and the pool measure, with the bounds of their parameters.

use super::{At, Ctx, Res, MAX_BURST, MAX_CLIENTS, MAX_CROWD};
use crate::model::Step;
use crate::raw::{RawHold, RawMeasurePool, RawStorm};

impl Ctx<'_> {
    /// A `storm` step: at most [`MAX_CROWD`] connects in bursts of at most [`MAX_BURST`], and no
    /// more failures allowed than connects.
    pub(super) fn storm(&self, at: &At, st: RawStorm) -> Res<Step> {
        let bad = if st.connects == 0 || st.connects > MAX_CROWD {
            Some(("connects", format!("must be within 1..={MAX_CROWD}")))
        } else if st.burst == 0 || st.burst > st.connects.min(MAX_BURST) {
            Some((
                "burst",
                format!("must be within 1..={}", st.connects.min(MAX_BURST)),
            ))
        } else if st.max_failed > st.connects {
            Some(("max_failed", "must not exceed `connects`".to_string()))
        } else {
            None
        };
        if let Some((name, why)) = bad {
            return Err(self.step_err(at, &at.sub(name), why));
        }
        Ok(Step::Storm {
            connects: st.connects,
            burst: st.burst,
            max_failed: st.max_failed,
        })
    }

    /// A `hold` step: at most [`MAX_CROWD`] connections, bursts within the count and
    /// [`MAX_BURST`], and a pause only between bursts.
    pub(super) fn hold(&self, at: &At, h: RawHold) -> Res<Step> {
        if h.count == 0 || h.count > MAX_CROWD {
            return Err(self.step_err(
                at,
                &at.sub("count"),
                format!("must be within 1..={MAX_CROWD}"),
            ));
        }
        let most = h.count.min(MAX_BURST);
        if h.burst.is_some_and(|b| b == 0 || b > most) {
            return Err(self.step_err(at, &at.sub("burst"), format!("must be within 1..={most}")));
        }
        if h.pause_ms > 0 && h.burst.is_none() {
            return Err(self.step_err(
                at,
                &at.sub("pause_ms"),
                "needs `burst`: the pause comes between bursts",
            ));
        }
        Ok(Step::Hold {
            count: h.count,
            burst: h.burst,
            pause_ms: self.ms(at, h.pause_ms, "pause_ms")?,
        })
    }

    /// A `measure_pool` step: a ceiling of 2 to [`MAX_CLIENTS`] clients.
    pub(super) fn measure_pool(&self, at: &At, m: RawMeasurePool) -> Res<Step> {
        if !(2..=MAX_CLIENTS).contains(&m.max) {
            return Err(self.step_err(
                at,
                &at.sub("max"),
                format!("must be within 2..={MAX_CLIENTS}"),
            ));
        }
        Ok(Step::MeasurePool { max: m.max })
    }
}
