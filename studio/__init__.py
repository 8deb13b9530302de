"""Model Studio: label data, train networks on your own GPU, export them; plus a kernel lab."""

__version__ = "0.1.0"
