from digits_model import digit_files, digits_exports, digits_home, digits_lib, digits_run  # noqa: F401
