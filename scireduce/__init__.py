"""scireduce: reduction hooks. Every finished scan a rule matches is reduced by a pipeline of
versioned, cached steps in a worker of a consumer group, and lands as a derived dataset."""

from scizoo.core import job_id

from ._cache import ResultCache
from ._pipeline import RAW, NoParams, Pipeline, Run, Step, raw_key, run_pipeline, step_key
from ._rules import Condition, Rule, RuleSet, StoredRules, load_rules
from ._settings import ScireduceSettings
from ._worker import Reducer, run_worker

__all__ = ["RAW", "Condition", "NoParams", "Pipeline", "Reducer", "ResultCache", "Rule", "RuleSet", "Run",
           "ScireduceSettings", "Step", "StoredRules", "job_id", "load_rules", "raw_key", "run_pipeline", "run_worker",
           "step_key"]
