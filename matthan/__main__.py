from matthan.cli import app

app()
