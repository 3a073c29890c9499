"""The WSGI entry point: `app = create_app()`."""
from zongzhi.app import create_app

app = create_app()
