"""综治银行 (Zongzhi Bank): the app factory, its settings, the command line."""
