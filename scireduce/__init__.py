"""scireduce: reduction hooks. Every finished scan a rule matches is reduced by a pipeline of
versioned, cached steps in a worker of a consumer group, and lands as a derived dataset."""

from scizoo.core import job_id

from ._cache import ResultCache
from ._loop import Reducer, run_worker
from ._pipeline import RAW, NoParams, Pipeline, Run, Step, raw_key, run_pipeline, step_key
from ._ports import Catalogue, Clock, JobSpec, JobStore, Runner, RunOutcome, system_clock
from ._reducer import Worker
from ._rules import Condition, Rule, RuleSet, StoredRules, load_rules
from ._runner import SubprocessRunner
from ._settings import ScireduceSettings
from ._store import MongoCatalogue, MongoJobStore

__all__ = ["RAW", "Catalogue", "Clock", "Condition", "JobSpec", "JobStore", "MongoCatalogue", "MongoJobStore", "NoParams",
           "Pipeline", "Reducer", "ResultCache", "Rule", "RuleSet", "Run", "RunOutcome", "Runner", "ScireduceSettings",
           "Step", "StoredRules", "SubprocessRunner", "Worker", "job_id", "load_rules", "raw_key", "run_pipeline",
           "run_worker", "step_key", "system_clock"]
