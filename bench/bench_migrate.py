"""What the attachment migration costs on SecantusDB: once, and at every service's start after.

Stores N attachments as scizoo wrote them before issue 18 (``relationships.targetIds`` and
``datasetId``, each with a ~10 KB thumbnail), then times :func:`migrate_catalogue` moving them,
a second run (what every later start pays: nothing to move), and the v3 query of one dataset's
attachments afterwards (served by the backend's ``relationships.targetId`` index).

Run: .venv/bin/python bench/bench_migrate.py [attachments]
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the bench package is beside the project's
    sys.path.insert(0, str(ROOT))

from pymongo import MongoClient

from scizoo.core import ATTACHMENT_COLLECTION, attachments_of, ensure_indexes, migrate_catalogue
from scizoo.testing import EmbeddedMongo


def main(count: int) -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    thumb = "data:image/png;base64," + "A" * 10_000
    with tempfile.TemporaryDirectory() as folder, EmbeddedMongo(Path(folder)) as mongo:
        client: MongoClient[dict] = MongoClient(mongo.uri, tz_aware=True)
        db = client["bench"]
        attachments = db[ATTACHMENT_COLLECTION]
        attachments.create_index("relationships.targetIds")
        attachments.create_index("datasetId")
        for start in range(0, count, 2000):
            attachments.insert_many([
                {"_id": f"a{n}", "aid": f"a{n}", "datasetId": f"p/{n}", "caption": "", "thumbnail": thumb,
                 "relationships": [{"targetIds": [f"p/{n}"], "targetType": "dataset", "relationType": "is attached to"}],
                 "ownerGroup": "g", "accessGroups": [], "isPublished": False, "createdBy": "scanlog",
                 "updatedBy": "scanlog", "createdAt": now, "updatedAt": now}
                for n in range(start, min(start + 2000, count))])
        began = time.perf_counter()
        moved = migrate_catalogue(db)
        first = time.perf_counter() - began
        began = time.perf_counter()
        again = migrate_catalogue(db)
        second = time.perf_counter() - began
        ensure_indexes(db)
        began = time.perf_counter()
        found = list(attachments.find(attachments_of(f"p/{count // 2}")))
        query = time.perf_counter() - began
        client.close()
    print(f"{count} attachments: first run moved {moved['attachments']} in {first:.2f} s; "
          f"a second run moved {again['attachments']} in {1000 * second:.0f} ms; "
          f"one dataset's attachments by relationships.targetId: {len(found)} in {1000 * query:.1f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
