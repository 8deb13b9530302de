"""GUI tests, laid out like studio/ui. This conftest puts tests/ui on sys.path (pytest's rootdir
import mode) so tests in the feature folders share train_gui_helpers."""
