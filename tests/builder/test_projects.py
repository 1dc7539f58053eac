"""builder/projects.py: names for what a project is downloaded as."""
from builder.projects import file_stem
from runtime.graph import Graph, Project


def test_a_download_is_named_after_its_project_in_safe_characters_or_else_as_told():
    assert file_stem(Project("MLP on digits (v2)", Graph()), unnamed="model") == "MLP_on_digits_v2"
    assert file_stem(Project("../..", Graph()), unnamed="project") == "project"
    assert file_stem(Project("../..", Graph()), unnamed="model") == "model"
    assert file_stem(Project("x" * 80, Graph()), unnamed="model") == "x" * 60
