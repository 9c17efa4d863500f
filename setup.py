"""Package discovery, which pyproject.toml cannot express alone: config/ installs as `secor_config`.

Every folder under intake/, triage/ and fetchers/ is a package (data folders such as templates and
migrations as namespace packages), so a new subpackage is picked up without an edit and a build
prints no "Package would be ignored" warning. Everything else is in pyproject.toml.
"""

from setuptools import find_namespace_packages, setup

CODE = find_namespace_packages(include=["intake", "intake.*", "triage", "triage.*", "fetchers", "fetchers.*"],
                               exclude=["*.__pycache__"])
CONFIG = ["secor_config" + name.removeprefix("config")
          for name in find_namespace_packages(include=["config", "config.*"], exclude=["*.__pycache__"])]

setup(packages=CODE + CONFIG, package_dir={"secor_config": "config"})
