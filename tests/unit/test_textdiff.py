from harness.textdiff import unified_diff


def test_lines_without_final_newline_stay_apart():
    diff = unified_diff("Hello {{ name }}.", "Hi {{ name }}.", "v1", "v2")
    assert diff.splitlines() == ["--- v1", "+++ v2", "@@ -1 +1 @@",
                                 "-Hello {{ name }}.", "+Hi {{ name }}."]
    assert diff.endswith("\n")


def test_multi_line_change_and_no_change():
    old = "system: be brief\nuser: {{ q }}"
    new = "system: be brief\nuser: {{ q }}\nassistant:"
    assert "+assistant:\n" in unified_diff(old, new, "a", "b")
    assert " user: {{ q }}\n" in unified_diff(old, new, "a", "b")
    assert unified_diff(old, old, "a", "b") == ""


def test_created_from_nothing():
    assert unified_diff("", "one\ntwo", "(none)", "p v1").splitlines()[-2:] == ["+one", "+two"]
