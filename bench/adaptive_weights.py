"""The weight of the added looks in the adaptive-seeds test, chosen on real runs: for each weight, whole
simulated campaigns from the bundled task's seed study (eight candidates, the default race, top two,
five repeat seeds then up to ten added in batches of five) are decided with added seeds and, the same
campaigns, on the five fixed seeds alone. Prints per weight the first look's nominal p, the A/A rate
and each known change's confirmed rate both ways, with the added runs per campaign.

Usage: python bench/adaptive_weights.py [campaigns per line] [weights...]
"""

import json
import sys
from pathlib import Path

from flcampaign.config import defaults
from flcampaign.evidence import adaptive_seeds, calibration, racing

REPO = Path(__file__).resolve().parent.parent
STUDY = REPO / "docs" / "data" / "seed_study_heart_disease.json"

if __name__ == "__main__":
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    weights = [float(w) for w in sys.argv[2:]] or [1.0, 0.3, 0.1, 0.05]
    study = calibration.SeedStudy.from_dict(json.loads(STUDY.read_text()))
    race = racing.RaceSettings.from_config(defaults(study.task)["selection"] | {"top_k": 2})
    for weight in weights:
        plan = adaptive_seeds.AdaptiveSettings(seeds=tuple(range(10)), batch=5, later_weight=weight)
        rates = calibration.campaign_rates(study, 5, 8, race, (0.05, 0.03), trials=trials, adaptive=plan)
        nominal = adaptive_seeds.boundary(plan.looks(5), weight)
        print(
            f"\nlater looks' weight {weight:g}: first look at p < {nominal:.4f}, added looks at p < "
            f"{nominal * weight:.4f}"
        )
        print(calibration.render_campaigns(rates), flush=True)
