"""scifix: fixity. Every file of an ingested dataset gets its checksum in the catalogue (SciCat's
``chk`` and ``chkAlg``), computed by a worker of its own consumer group at a bounded read rate;
a file changed or gone since capture is flagged, and published data is verified again."""

from ._bucket import TokenBucket
from ._fixity import FIXITY_COLLECTION, FIXITY_FILE_COLLECTION, FileResult, Fixity, Report
from ._hashing import Interrupted, checksum
from ._loop import run_worker
from ._rules import PROBLEMS, Outcome
from ._settings import ScifixSettings

__all__ = ["FIXITY_COLLECTION", "FIXITY_FILE_COLLECTION", "PROBLEMS", "FileResult", "Fixity", "Interrupted", "Outcome",
           "Report", "ScifixSettings", "TokenBucket", "checksum", "run_worker"]
