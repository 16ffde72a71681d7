#!/usr/bin/env python3
"""Counts test cases from a Bazel build-event JSON file.

Prints one line, "N passed, N failed". Each test target contributes the test
cases of its test.xml (a case with <failure> or <error> failed). A test target
that wrote no XML counts as one case with the target's status; a target that
failed to build or was skipped because of a failure counts as one failed case.
Exits 1 when the file cannot be read.
"""
import json
import sys
import xml.etree.ElementTree as ET
from urllib.parse import unquote, urlparse


def count_xml(path):
    root = ET.parse(path).getroot()
    passed = failed = 0
    for case in root.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.get("status", "run") == "run" and case.find("skipped") is None:
            passed += 1
    return passed, failed


def main(bep_path):
    passed = failed = 0
    tested = set()
    broken = set()
    with open(bep_path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            event = json.loads(line)
            eid = event.get("id", {})
            if "testResult" in eid:
                label = eid["testResult"]["label"]
                tested.add(label)
                result = event.get("testResult", {})
                xml = [o for o in result.get("testActionOutput", [])
                       if o.get("name") == "test.xml"]
                counted = False
                if xml:
                    try:
                        p, fl = count_xml(unquote(urlparse(xml[0]["uri"]).path))
                        if p + fl > 0 or result.get("status") == "PASSED":
                            passed, failed = passed + p, failed + fl
                            # A crash after all cases passed still fails.
                            if fl == 0 and result.get("status") != "PASSED":
                                failed += 1
                            counted = True
                    except (OSError, ET.ParseError):
                        pass
                if not counted:
                    if result.get("status") == "PASSED":
                        passed += 1
                    else:
                        failed += 1
            elif "targetCompleted" in eid:
                label = eid["targetCompleted"]["label"]
                done = event.get("completed")
                if event.get("aborted") or (done is not None
                                            and not done.get("success", False)):
                    broken.add(label)
    failed += len(broken - tested)
    print(f"{passed} passed, {failed} failed")


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    except OSError as e:
        print(f"count_tests: {e}", file=sys.stderr)
        print("0 passed, 1 failed")
        sys.exit(1)
