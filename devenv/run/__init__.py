"""Day two: `devenv run`, `devenv shell` and the plan's setup tasks, in whichever mode the project
is."""
