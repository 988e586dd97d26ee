"""Reduction workers: a consumer group on the "dataset ingested" events.

For each finished raw dataset a rule matches, a job document is made (its id derived from
the dataset and the rule, so a redelivered event finds the job it made). The job runs in a
subprocess with the rule's timeout; its outputs become a SciCat ``derived`` Dataset (its pid
derived from the job, so a job run twice still makes one), an OrigDatablock and the plot as
an Attachment. Offsets are committed once the batch's jobs are settled; a worker killed
mid-job leaves the event uncommitted and the job "running": another worker takes it over.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer
from kafka.errors import KafkaError
from pymongo import MongoClient
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, PyMongoError

from scizoo import __version__
from scizoo.core import (
    ATTACHMENT_COLLECTION,
    CANCELLABLE,
    DATASET_COLLECTION,
    JOB_COLLECTION,
    ORIG_DATABLOCK_COLLECTION,
    PID_NAMESPACE,
    PRODUCER_OWNED_DATABLOCK_FIELDS,
    REDUCTION_OWNED_DATASET_FIELDS,
    REDUCTION_RULES_COLLECTION,
    DatasetIngested,
    DerivedDatasetDocument,
    Lifecycle,
    base_rule,
    build_attachment,
    cancel_update,
    ensure_indexes,
    events_topic,
    job_id,
    producer_update,
    rerun_pattern,
)
from scizoo.ops import REDUCTION_JOBS, HealthServer, Readiness, broker_problem, first_problem
from scizoo.ops.kafka_records import missing_codecs, undecodable
from scizoo.ops.store import store_problem

from ._job import find_pipeline
from ._rules import Rule, RuleSet, StoredRules
from ._settings import ScireduceSettings

logger = logging.getLogger(__name__)
Doc = dict[str, Any]
LOG_TAIL = 4000
#: How often one job is run in all (a failure, or a worker that died running it, counts).
MAX_ATTEMPTS = 3


class Reducer:
    """Runs the jobs of one event; knows nothing of consumer groups."""

    def __init__(self, db: Database[Doc], rules: RuleSet, settings: ScireduceSettings) -> None:
        self.db, self.rules, self.settings = db, rules, settings
        self.worker = settings.worker_id or f"{socket.gethostname()}:{os.getpid()}"

    def handle(self, event: DatasetIngested) -> list[Doc]:
        dataset = self.db[DATASET_COLLECTION].find_one({"_id": event.pid})
        if dataset is None:
            return []
        files = [f["path"] for b in self.db[ORIG_DATABLOCK_COLLECTION].find({"datasetId": event.pid})
                 for f in b.get("dataFileList", [])]
        jobs = []
        for rule in self.rules.rules:
            path = rule.input_file(dataset, files)
            if path is not None:
                jobs.append(self.run(dataset, rule, path))
        return jobs

    def _claim(self, dataset: Doc, rule: Rule, now: datetime) -> Doc | None:
        """The job to run, or None when it is done or another worker runs it (and is alive)."""
        jobs = self.db[JOB_COLLECTION]
        jid = job_id(dataset["_id"], rule.name)
        fresh = {"_id": jid, "datasetId": dataset["_id"], "rule": rule.name, "pipeline": rule.pipeline,
                 "params": rule.params, "state": "queued", "attempt": 0, "createdAt": now, "updatedAt": now}
        try:
            jobs.insert_one(fresh)
        except DuplicateKeyError:
            pass
        stale = now.timestamp() - (rule.timeout_s + self.settings.stale_after_s)
        # A failed job, or one whose worker died (running past its timeout), is taken again, up
        # to MAX_ATTEMPTS in all; the limit is in the filter, so a job past it stays as it is.
        return jobs.find_one_and_update(
            {"_id": jid, "attempt": {"$lt": MAX_ATTEMPTS},
             "$or": [{"state": {"$in": ["queued", "failed"]}},
                     {"state": "running", "startedAt": {"$lt": datetime.fromtimestamp(stale, UTC)}}]},
            {"$set": {"state": "running", "worker": self.worker, "startedAt": now, "updatedAt": now},
             "$inc": {"attempt": 1}}, return_document=True)

    def rerun(self, pid: str, rule_name: str, params: dict[str, dict[str, Any]]) -> Doc:
        """Run a rule on a dataset again with changed parameters: a new job and, when it
        succeeds, a new derived dataset (the earlier ones are kept). Raises ``LookupError`` for
        an unknown dataset or rule, ``ValueError`` for parameters the pipeline refuses."""
        dataset, rule, path, merged = self._prepare_rerun(pid, rule_name, params)
        earlier = self.db[JOB_COLLECTION].count_documents({"datasetId": pid, "rule": {"$regex": rerun_pattern(rule.name)}})
        again = rule.model_copy(update={"name": f"{rule.name}.r{earlier + 1}", "params": merged})
        return self.run(dataset, again, path)

    def _prepare_rerun(self, pid: str, rule_name: str,
                       params: dict[str, dict[str, Any]]) -> tuple[Doc, Rule, str, dict[str, dict[str, Any]]]:
        """The dataset, its rule, its input file and the merged parameters of a rerun."""
        dataset = self.db[DATASET_COLLECTION].find_one({"_id": pid})
        if dataset is None:
            raise LookupError(f"no dataset {pid!r}")
        rule = next((r for r in self.rules.rules if r.name == rule_name), None)
        if rule is None:
            raise LookupError(f"no rule {rule_name!r}; the rules are: {', '.join(r.name for r in self.rules.rules)}")
        files = [f["path"] for b in self.db[ORIG_DATABLOCK_COLLECTION].find({"datasetId": pid})
                 for f in b.get("dataFileList", [])]
        path = rule.input_file(dataset, files)
        if path is None:
            raise ValueError(f"rule {rule.name!r} does not apply to dataset {pid!r} (beamline, format, files, "
                             "conditions or status)")
        merged = {step: {**rule.params.get(step, {}), **params.get(step, {})} for step in {*rule.params, *params}}
        refused = self.refusal(rule)
        if refused:
            raise ValueError(refused)
        if rule.python:  # the pipeline is installed over there: the job itself checks its parameters
            return dataset, rule, path, merged
        try:
            find_pipeline(rule.pipeline).step_params(merged)
        except Exception as err:  # a pydantic ValidationError or an unknown step: say which
            raise ValueError(f"parameters refused by pipeline {rule.pipeline!r}: {err}") from err
        return dataset, rule, path, merged

    def refusal(self, rule: Rule) -> str | None:
        """Why this worker will not run a rule's job (None: it will). Rules may come from the
        API, so a module path or another interpreter needs the worker's own consent."""
        if ":" in rule.pipeline and not self.settings.module_pipelines:
            return (f"pipeline {rule.pipeline!r} is a module path; this worker runs registered pipelines only "
                    "(SCIREDUCE_MODULE_PIPELINES=true allows module paths)")
        if rule.python and rule.python not in self.settings.pythons:
            return (f"rule {rule.name!r} names the Python {rule.python!r}, which is not one of this worker's "
                    "SCIREDUCE_PYTHONS")
        return None

    def take_requested(self, limit: int = 1) -> list[Doc]:
        """Run the reruns asked for through the scan table's API (queued jobs with a
        ``requestedBy``), oldest first; one that cannot run fails with the reason in its log.

        One per call by default: the worker polls Kafka between them, so a queue of reruns
        never keeps it from its group (or new scans from their reductions) for long.
        """
        done = []
        for job in (self.db[JOB_COLLECTION].find({"state": "queued", "requestedBy": {"$exists": True}})
                    .sort("createdAt", 1).limit(limit)):
            try:
                dataset, rule, path, merged = self._prepare_rerun(job["datasetId"], base_rule(job["rule"]),
                                                                  job.get("requestedParams") or {})
            except PyMongoError:
                raise  # the store is away: the request stays queued
            except Exception as err:  # noqa: BLE001 - whatever the request or its scan holds, it fails with why
                if not isinstance(err, (LookupError, ValueError)):
                    err = ValueError(f"{type(err).__name__}: {err}")
                now = datetime.now(UTC)
                refused = self.db[JOB_COLLECTION].find_one_and_update(
                    {"_id": job["_id"], "state": "queued"},
                    {"$set": {"state": "failed", "attempt": MAX_ATTEMPTS, "log": f"not run: {err}",
                              "endedAt": now, "updatedAt": now}}, return_document=True)
                if refused is not None:
                    REDUCTION_JOBS.labels("failed").inc()
                    logger.error("requested rerun %s not run: %s", job["_id"], err)
                    done.append(refused)
                continue
            rule = rule.model_copy(update={"name": job["rule"], "params": merged})
            self.db[JOB_COLLECTION].update_one({"_id": job["_id"], "state": "queued"},
                                               {"$set": {"pipeline": rule.pipeline, "params": merged}})
            done.append(self.run(dataset, rule, path))
        return done

    def sweep(self, limit: int = 100) -> list[Doc]:
        """Take over the jobs whose worker died mid-job: "running" past their rule's timeout
        plus ``stale_after_s``. Without this, a job whose event another worker had already
        read (and committed, the job then looking alive) would stay "running" for ever."""
        now = datetime.now(UTC)
        oldest = now - timedelta(seconds=self.settings.stale_after_s + min(
            (r.timeout_s for r in self.rules.rules), default=0.0))
        done = []
        for job in self.db[JOB_COLLECTION].find({"state": "running", "startedAt": {"$lt": oldest}}).limit(limit):
            # The job's rule, or the rule a rerun ("<rule>.rN") came from.
            base = next((r for r in self.rules.rules if r.name == base_rule(job["rule"])), None)
            dataset = self.db[DATASET_COLLECTION].find_one({"_id": job["datasetId"]})
            if base is None or dataset is None:
                continue  # its rule was removed, or the dataset: left as it is, for a person to see
            files = [f["path"] for b in self.db[ORIG_DATABLOCK_COLLECTION].find({"datasetId": dataset["_id"]})
                     for f in b.get("dataFileList", [])]
            path = base.input_file(dataset, files)
            if path is None:
                continue
            rule = base.model_copy(update={"name": job["rule"], "params": job.get("params", base.params)})
            logger.warning("taking over job %s (running on %s since %s, past its timeout)", job["_id"],
                           job.get("worker"), job.get("startedAt"))
            done.append(self.run(dataset, rule, path))
        return done

    def cancel(self, jid: str) -> Doc:
        """Cancel a job that is not running: it is never taken again (a redelivered event
        included). ``LookupError`` if there is no such job, ``ValueError`` if it cannot be."""
        jobs = self.db[JOB_COLLECTION]
        now = datetime.now(UTC)
        done = jobs.find_one_and_update({"_id": jid, "state": {"$in": list(CANCELLABLE)}}, cancel_update(now),
                                        return_document=True)
        if done is not None:
            return done
        job = jobs.find_one({"_id": jid})
        if job is None:
            raise LookupError(f"no job {jid!r}")
        if job["state"] == "running":
            raise ValueError(f"job {jid!r} is running on {job.get('worker')}; it ends at the latest at its timeout")
        raise ValueError(f"job {jid!r} has {job['state']} already")

    def run(self, dataset: Doc, rule: Rule, path: str) -> Doc:
        now = datetime.now(UTC)
        job = self._claim(dataset, rule, now)
        if job is None:
            return self.db[JOB_COLLECTION].find_one({"_id": job_id(dataset["_id"], rule.name)}) or {}
        refused = self.refusal(rule)
        if refused:
            return self._finish(job, "failed", f"not run: {refused}")
        spec = {"pipeline": rule.pipeline, "raw_path": path, "params": rule.params, "input_pid": dataset["_id"],
                "cache_dir": str(self.settings.work_dir / "cache"), "out_dir": str(self.settings.work_dir / "out"),
                "cache_max_bytes": self.settings.cache_max_bytes}
        python = rule.python or sys.executable
        try:
            done = subprocess.run([python, "-m", "scireduce._job"], input=json.dumps(spec), text=True,  # noqa: S603
                                  capture_output=True, timeout=rule.timeout_s, check=False)
        except OSError as err:  # the rule's environment is not there (or not runnable)
            return self._finish(job, "failed", f"cannot start the job's Python {python!r}: {err}")
        except subprocess.TimeoutExpired as err:
            log = (err.stderr or b"").decode() if isinstance(err.stderr, bytes) else (err.stderr or "")
            return self._finish(job, "failed", f"{log}\nkilled after its timeout of {rule.timeout_s:g} s")
        if done.returncode != 0:
            return self._finish(job, "failed", done.stderr)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        derived = self._write_derived(dataset, job, rule, result, done.stderr, datetime.now(UTC))
        return self._finish(job, "succeeded", done.stderr, derived=derived, executed=result["executed"])

    def _finish(self, job: Doc, state: str, log: str, **more: Any) -> Doc:
        now = datetime.now(UTC)
        update = {"state": state, "log": log[-LOG_TAIL:], "endedAt": now, "updatedAt": now, **more}
        self.db[JOB_COLLECTION].update_one({"_id": job["_id"]}, {"$set": update})
        REDUCTION_JOBS.labels(state).inc()
        if state == "failed":
            logger.error("reduction %s failed: %s", job["_id"], log.strip().splitlines()[-1:] or "no log")
        return {**job, **update}

    def _write_derived(self, raw: Doc, job: Doc, rule: Rule, result: Doc, log: str, now: datetime) -> str:
        """The derived Dataset, its OrigDatablock and its plot; pids derived from the job, so once."""
        pid = f"{self.settings.pid_prefix}/{uuid.uuid5(PID_NAMESPACE, 'derived:' + job['_id'])}"
        files = result["files"]
        recipe = result["recipe"]
        doc = DerivedDatasetDocument(
            id=pid, pid=pid, owner=raw.get("owner") or raw["ownerGroup"], ownerEmail=raw.get("ownerEmail", ""),
            contactEmail=raw.get("contactEmail", ""), principalInvestigators=raw.get("principalInvestigators", []),
            sourceFolder=result["folder"], size=sum(f["size"] for f in files), numberOfFiles=len(files),
            creationTime=now, datasetName=f"{raw.get('datasetName', raw['_id'])} · {recipe['pipeline']}",
            description=f"{recipe['pipeline']} of {raw['_id']}", proposalIds=raw.get("proposalIds", []),
            instrumentIds=raw.get("instrumentIds", []), creationLocation=raw.get("creationLocation", ""),
            dataFormat="nxs, csv, png", keywords=["derived", recipe["pipeline"]],
            scientificMetadata={"bins": {"value": result["summary"]["bins"], "unit": ""},
                                "points": {"value": result["summary"]["points"], "unit": ""},
                                "recipe": {"value": json.dumps(recipe, sort_keys=True), "unit": ""}},
            ownerGroup=raw["ownerGroup"], accessGroups=raw.get("accessGroups", []), createdBy="scireduce",
            updatedBy="scireduce", createdAt=now, updatedAt=now, datasetlifecycle=Lifecycle(),
            inputDatasets=[raw["_id"]],
            usedSoftware=[f"scizoo {__version__}", f"{recipe['pipeline']} {recipe['pipeline_version']}",
                          *(f"{s['name']} {s['version']}" for s in recipe["steps"])],
            jobParameters={"rule": rule.name, "params": rule.params, "job": job["_id"]}, jobLogData=log[-LOG_TAIL:],
        )
        _insert_or_update(self.db[DATASET_COLLECTION], doc.to_mongo(), REDUCTION_OWNED_DATASET_FIELDS)
        block = {"_id": str(uuid.uuid5(PID_NAMESPACE, f"origdatablock:{pid}")), "datasetId": pid,
                 "size": doc.size, "chkAlg": "sha1", "ownerGroup": doc.ownerGroup, "accessGroups": doc.accessGroups,
                 "isPublished": False, "createdBy": "scireduce", "updatedBy": "scireduce", "createdAt": now,
                 "updatedAt": now,
                 "dataFileList": [{"path": f["path"], "size": f["size"], "time": now, "chk": f["chk"]} for f in files]}
        _insert_or_update(self.db[ORIG_DATABLOCK_COLLECTION], block, PRODUCER_OWNED_DATABLOCK_FIELDS)
        plot = next((f["path"] for f in files if f["path"].endswith(".png")), None)
        if plot:
            thumb = "data:image/png;base64," + base64.b64encode(Path(plot).read_bytes()).decode()
            aid = str(uuid.uuid5(PID_NAMESPACE, f"attachment:{pid}"))
            plot_doc = build_attachment(doc.to_mongo(), aid=aid, caption=f"{recipe['pipeline']} profile",
                                        thumbnail=thumb, user="scireduce", now=now)
            self.db[ATTACHMENT_COLLECTION].replace_one({"_id": aid}, plot_doc.to_mongo(), upsert=True)
        return pid


def run_worker(settings: ScireduceSettings, stop: threading.Event) -> None:
    """Consume "dataset ingested" events until ``stop`` is set."""
    client: MongoClient[Doc] = MongoClient(settings.mongo_uri.get_secret_value(), tz_aware=True)
    db = client[settings.database]
    ensure_indexes(db)
    # The store's rules (an administrator edits them through the scan table), seeded from the
    # YAML file on the first start; re-read at each poll when their revision changed.
    rules = StoredRules(db[REDUCTION_RULES_COLLECTION], settings.rules_file)
    rules.seed()
    reducer = Reducer(db, rules.current(), settings)
    health = None
    if settings.health_port is not None:
        problem = first_problem(store_problem(settings.mongo_uri.get_secret_value(), service="scireduce",
                                              setting="SCIREDUCE_MONGO_URI"),
                                broker_problem(settings.kafka_bootstrap))
        health = HealthServer(settings.health_port, Readiness(problem)).start()
    consumer = KafkaConsumer(
        events_topic(settings.topic_prefix), bootstrap_servers=settings.kafka_bootstrap, **settings.kafka_security(),
        group_id=settings.group_id,
        enable_auto_commit=False, auto_offset_reset="earliest",
        # One event per poll: its jobs take seconds to minutes, and the time between polls must
        # stay under max_poll_interval_ms, or the worker is evicted in the middle of them.
        max_poll_records=1,
        max_poll_interval_ms=settings.max_poll_interval_ms, session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=settings.heartbeat_interval_ms)
    if missing_codecs():
        logger.error("kafka-python cannot read events compressed with %s here; install scizoo[reduce]",
                     ", ".join(missing_codecs()))
    next_sweep = time.monotonic() + settings.sweep_interval_s
    try:
        while not stop.is_set():
            reducer.rules = rules.current()  # one read by _id
            reducer.take_requested()  # reruns asked for through the scan table (an indexed query)
            if time.monotonic() >= next_sweep:
                reducer.sweep()
                next_sweep = time.monotonic() + settings.sweep_interval_s
            try:
                polled = consumer.poll(timeout_ms=settings.poll_timeout_ms)
            except Exception as err:  # a batch that cannot be decoded raises its codec's own error
                bad = undecodable(err)
                if bad is None:
                    raise
                # Skipped like an event that does not validate (below): the datasets are in the
                # catalogue, and a person can ask for their reductions. Polled again at the same
                # position, kafka-python 3.0.12 would loop inside poll() for ever: move past it.
                logger.error("events not read: %s", bad.reason)
                if bad.partition in consumer.assignment():
                    consumer.seek(bad.partition, bad.after)
                continue
            for records in polled.values():
                for record in records:
                    try:
                        event = DatasetIngested.model_validate_json(record.value)
                    except ValueError as err:
                        logger.error("not a 'dataset ingested' event at %s@%d: %s", record.topic, record.offset, err)
                        continue
                    reducer.handle(event)
            if polled:
                try:
                    consumer.commit()
                except KafkaError as err:
                    # Evicted or re-balancing: the event comes again to whoever owns it now, and
                    # its jobs are claimed once (a finished one is not run again).
                    logger.warning("event offset not committed (%s: %s); it will be read again",
                                   type(err).__name__, err)
    finally:
        if health is not None:
            health.stop()
        consumer.close()
        client.close()


def _insert_or_update(collection: Collection[Doc], doc: Doc, owned: frozenset[str]) -> None:
    """Write a document the first time; a second write (a job taken over) sets only what the
    reduction owns, so a derived dataset published or shared meanwhile stays so."""
    try:
        collection.insert_one(doc)
    except DuplicateKeyError:
        collection.update_one({"_id": doc["_id"]}, producer_update(doc, owned))
