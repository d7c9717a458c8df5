# The part of Flask-WTF the web app uses, typed for mypy (Flask-WTF ships no type information).
from flask_wtf.csrf import CSRFProtect as CSRFProtect
from flask_wtf.form import FlaskForm as FlaskForm
