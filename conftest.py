pytest_plugins = ["pytest_deploy"]
