"""The scizoo recorder for Sardana.

Point the MacroServer's ``RecorderPath`` property at this folder
(``python -c "import scifish; print(scifish.RECORDER_PATH)"``) and enable it for a
user with ``senv DataRecorder "['ScizooRecorder']"``. Kafka, spool and beamline
configuration come from the MacroServer's environment (``SCIFISH_*`` variables, see
``scifish.ScifishSettings``); the Sardana environment variable ``ScizooConfigFile``
overrides the configuration file.

The recorder never raises into the scan and never waits for Tango or Kafka: see
``scifish._recorder``.
"""

from __future__ import annotations

from typing import Any

from sardana.macroserver.scan.recorder import DataRecorder

from scifish._recorder import ScanRecording, shared_worker


class ScizooRecorder(DataRecorder):
    """Sends a scan's metadata to scizoo: "running" at its start, the final record at its end."""

    def __init__(self, *args: Any, macro: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.macro = macro
        self._recording: ScanRecording | None = None

    def _config_file(self) -> str | None:
        try:
            return str(self.macro.getEnv("ScizooConfigFile"))
        except Exception:  # noqa: BLE001 - unset is the normal case
            return None

    def _warn_user(self) -> None:
        if self._recording is None:
            return
        for text in self._recording.take_warnings():
            try:
                self.macro.warning(text)
            except Exception:  # noqa: BLE001
                self.warning(text)

    def _startRecordList(self, recordlist: Any) -> None:  # noqa: N802 - Sardana's name
        try:
            self._recording = ScanRecording(shared_worker(), self._config_file())
            self._recording.start(recordlist.getEnviron())
            self._warn_user()
        except Exception as err:  # noqa: BLE001 - never abort the user's scan
            self.warning("scizoo recorder failed at scan start: %s", err)

    def _writeRecord(self, record: Any) -> None:  # noqa: N802
        try:
            if self._recording is not None:
                self._recording.record(record.data)
        except Exception as err:  # noqa: BLE001
            self.warning("scizoo recorder failed on a point: %s", err)

    def _endRecordList(self, recordlist: Any) -> None:  # noqa: N802
        try:
            if self._recording is not None:
                self._recording.end(recordlist.getEnviron())
                self._warn_user()
        except Exception as err:  # noqa: BLE001
            self.warning("scizoo recorder failed at scan end: %s", err)
