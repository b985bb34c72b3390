"""Forum dates ("Today at 5:04 pm", "5 minutes ago", "November 04, 2015, 05:04:20 pm",
"Wed Nov 04, 2015 5:04 pm", "11-04-2015, 05:04 PM", "Gestern, 10:42", "4 novembre 2015") to UTC,
reading them in the forum's time zone and language."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil import parser as dateparser

from listener.text import iso_utc

_NOISE_RE = re.compile(r"«|»|&[lr]aquo;|\b(?:reply\s*#\s*\d+\s*)?on\s*:|\bposted\s*:?|\blast post\b|\bby\s*$|^\s*by\b"
                       r"|#\d+|(?<!\w)[#?](?!\w)", re.I)
_RELATIVE_RE = re.compile(r"\b(today|yesterday)\b[\s,]*(?:at\s+)?(.*)$", re.I)
_AGO_RE = re.compile(r"\b(an?|one|\d+)\s+(second|sec|minute|min|hour|hr|day|week|month|year)s?\s+ago\b", re.I)
_JUST_NOW_RE = re.compile(r"^\s*(?:just now|a moment ago|moments ago|less than a minute ago)\s*$", re.I)
_DATE_LIKE_RE = re.compile(r"\d{1,2}:\d{2}|\b(?:19|20)\d{2}\b|\b\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}\b|"
                           r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s*\d", re.I)
_MIXED_RE = re.compile(r"\b[^\W\d_]+\d\w*\b")  # "user123", "v146": a name, never part of a date
_UNITS = {"second": 1, "sec": 1, "minute": 60, "min": 60, "hour": 3600, "hr": 3600, "day": 86400,
          "week": 7 * 86400, "month": 30 * 86400, "year": 365 * 86400}

# Each language's words as English ones, so one parser reads them all. Month names (full and
# abbreviated, the forms forums print), weekdays, "today"/"yesterday", "ago" phrasing and "at".
_WORDS: dict[str, dict[str, str]] = {
    "de": {"januar": "january", "jänner": "january", "februar": "february", "märz": "march", "maerz": "march",
           "april": "april", "mai": "may", "juni": "june", "juli": "july", "august": "august",
           "september": "september", "oktober": "october", "november": "november", "dezember": "december",
           "jan": "jan", "feb": "feb", "mär": "mar", "mrz": "mar", "apr": "apr", "jun": "jun", "jul": "jul",
           "aug": "aug", "sep": "sep", "sept": "sep", "okt": "oct", "nov": "nov", "dez": "dec",
           "montag": "monday", "dienstag": "tuesday", "mittwoch": "wednesday", "donnerstag": "thursday",
           "freitag": "friday", "samstag": "saturday", "sonntag": "sunday", "mo": "mon", "di": "tue",
           "mi": "wed", "do": "thu", "fr": "fri", "sa": "sat", "so": "sun",
           "heute": "today", "gestern": "yesterday", "um": "at", "uhr": "", "sekunde": "second",
           "sekunden": "seconds", "minute": "minute", "minuten": "minutes", "stunde": "hour",
           "stunden": "hours", "tag": "day", "tagen": "days", "woche": "week", "wochen": "weeks",
           "monat": "month", "monaten": "months", "jahr": "year", "jahren": "years", "einer": "a",
           "einem": "a", "gerade eben": "just now"},
    "fr": {"janvier": "january", "février": "february", "fevrier": "february", "mars": "march",
           "avril": "april", "mai": "may", "juin": "june", "juillet": "july", "août": "august",
           "aout": "august", "septembre": "september", "octobre": "october", "novembre": "november",
           "décembre": "december", "decembre": "december", "janv": "jan", "févr": "feb", "fév": "feb",
           "avr": "apr", "juil": "jul", "déc": "dec", "lundi": "monday", "mardi": "tuesday",
           "mercredi": "wednesday", "jeudi": "thursday", "vendredi": "friday", "samedi": "saturday",
           "dimanche": "sunday", "aujourd'hui": "today", "aujourd’hui": "today", "hier": "yesterday",
           "à": "at", "h": ":", "seconde": "second", "secondes": "seconds", "heure": "hour",
           "heures": "hours", "jour": "day", "jours": "days", "semaine": "week", "semaines": "weeks",
           "mois": "months", "an": "year", "ans": "years", "une": "a", "un": "a", "le": ""},
    "es": {"enero": "january", "febrero": "february", "marzo": "march", "abril": "april", "mayo": "may",
           "junio": "june", "julio": "july", "agosto": "august", "septiembre": "september",
           "setiembre": "september", "octubre": "october", "noviembre": "november", "diciembre": "december",
           "ene": "jan", "abr": "apr", "ago": "aug", "dic": "dec", "lunes": "monday", "martes": "tuesday",
           "miércoles": "wednesday", "jueves": "thursday", "viernes": "friday", "sábado": "saturday",
           "domingo": "sunday", "hoy": "today", "ayer": "yesterday", "a las": "at", "de": "",
           "segundo": "second", "segundos": "seconds", "minuto": "minute", "minutos": "minutes",
           "hora": "hour", "horas": "hours", "día": "day", "días": "days", "semana": "week",
           "semanas": "weeks", "mes": "month", "meses": "months", "año": "year", "años": "years",
           "una": "a", "un": "a"},
    "it": {"gennaio": "january", "febbraio": "february", "marzo": "march", "aprile": "april",
           "maggio": "may", "giugno": "june", "luglio": "july", "agosto": "august", "settembre": "september",
           "ottobre": "october", "novembre": "november", "dicembre": "december", "gen": "jan", "mag": "may",
           "giu": "jun", "lug": "jul", "ago": "aug", "set": "sep", "ott": "oct", "dic": "dec",
           "oggi": "today", "ieri": "yesterday", "alle": "at", "secondi": "seconds", "minuti": "minutes",
           "minuto": "minute", "ora": "hour", "ore": "hours", "giorno": "day", "giorni": "days",
           "settimana": "week", "settimane": "weeks", "mese": "month", "mesi": "months", "anno": "year",
           "anni": "years", "fa": "ago"},
    "nl": {"januari": "january", "februari": "february", "maart": "march", "april": "april", "mei": "may",
           "juni": "june", "juli": "july", "augustus": "august", "september": "september",
           "oktober": "october", "november": "november", "december": "december", "mrt": "mar",
           "okt": "oct", "vandaag": "today", "gisteren": "yesterday", "om": "at", "geleden": "ago",
           "minuten": "minutes", "minuut": "minute", "uur": "hours", "dag": "day", "dagen": "days",
           "week": "week", "weken": "weeks", "maand": "month", "maanden": "months", "jaar": "years",
           "een": "a"},
    "pt": {"janeiro": "january", "fevereiro": "february", "março": "march", "abril": "april", "maio": "may",
           "junho": "june", "julho": "july", "agosto": "august", "setembro": "september",
           "outubro": "october", "novembro": "november", "dezembro": "december", "fev": "feb",
           "abr": "apr", "mai": "may", "ago": "aug", "set": "sep", "out": "oct", "dez": "dec",
           "hoje": "today", "ontem": "yesterday", "às": "at", "de": "", "minutos": "minutes",
           "minuto": "minute", "hora": "hour", "horas": "hours", "dia": "day", "dias": "days",
           "semana": "week", "semanas": "weeks", "mês": "month", "meses": "months", "ano": "year",
           "anos": "years"},
}
# Phrases whose word order differs from English: "vor 5 Minuten", "il y a 5 minutes", "hace 5 minutos".
_AGO_PREFIX_RE = re.compile(r"\b(?:vor|il y a|hace|há|ha)\s+(.+)$", re.I)


def parse_forum_date(text: str | None, tz: str, now: datetime, language: str | None = None) -> str | None:
    """``YYYY-MM-DDTHH:MM:SSZ`` for a forum's date text, or None if there is no date in it.

    Times without a zone are in ``tz`` (an IANA name); "Today", "Yesterday" and
    "5 minutes ago" are relative to ``now`` in that zone. ``language`` (``de``,
    ``fr``, ``es``, ``it``, ``nl``, ``pt``; English is always understood) names
    the forum's month and day words. Month-first for numeric dates with dashes
    or slashes in English (vBulletin's default "11-04-2015"), day-first in the
    other languages and for dotted dates ("04.11.2015"); ISO times with an
    offset keep it.
    """
    if not text:
        return None
    if re.fullmatch(r"\s*1\d{9}\s*", text):  # a Unix time (XenForo 1's data-time)
        return iso_utc(datetime.fromtimestamp(int(text), tz=ZoneInfo("UTC")))
    zone = ZoneInfo(tz)
    clean = " ".join(_NOISE_RE.sub(" ", text.replace("\xa0", " ")).split()).strip(" ,-|")
    lang = (language or "en").lower()[:2]
    if lang in _WORDS:
        clean = _translate(clean, _WORDS[lang])
    if not clean:
        return None
    local_now = now.astimezone(zone)
    if _JUST_NOW_RE.match(clean):
        return iso_utc(local_now)
    ago = _AGO_RE.search(clean)
    if ago:
        count = 1 if ago.group(1).lower() in ("a", "an", "one") else int(ago.group(1))
        return iso_utc(local_now - timedelta(seconds=count * _UNITS[ago.group(2).lower()]))
    m = _RELATIVE_RE.search(clean)
    dayfirst = lang != "en" or bool(re.search(r"\b\d{1,2}\.\d{1,2}\.\d{2,4}\b", clean))
    # words mixing letters and digits ("user123", "v146") are names, not dates: the parser would read them
    clean = " ".join(_MIXED_RE.sub(" ", clean).split())
    if m:
        day = local_now.date() - timedelta(days=1 if m.group(1).lower() == "yesterday" else 0)
        base = datetime(day.year, day.month, day.day)
        when = _parse(m.group(2), base, dayfirst) if m.group(2).strip() else base
    elif not _DATE_LIKE_RE.search(clean):
        return None  # "Posts: 112" is not a date, however fuzzy the parser
    else:
        when = _parse(clean, datetime(local_now.year, 1, 1), dayfirst)
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    if not 1995 <= when.year <= local_now.year + 1:
        return None
    return iso_utc(when)


def _parse(text: str, default: datetime, dayfirst: bool) -> datetime | None:
    """dateutil's fuzzy reading of ``text``; failing that, of its longest tail or head that reads
    ("carl » Wed Jan 02, 2013 7:14 pm" has other words around the date)."""
    words = text.split()
    tries = [" ".join(words[i:]) for i in range(len(words))] + \
        [" ".join(words[:j]) for j in range(len(words) - 1, 0, -1)]
    for attempt in tries:
        if not _DATE_LIKE_RE.search(attempt) and attempt is not tries[0]:
            continue
        try:
            when = dateparser.parse(attempt, default=default, fuzzy=True, dayfirst=dayfirst)
        except (ValueError, OverflowError):
            continue
        if 1995 <= when.year <= default.year + 1:  # "146" read as a year is no date
            return when
    return None


def _translate(text: str, words: dict[str, str]) -> str:
    """``text`` with the language's date words replaced by English ones ("vor 5 Minuten" -> "5 minutes ago")."""
    low = text.lower()
    for phrase in sorted((w for w in words if " " in w), key=len, reverse=True):
        low = low.replace(phrase, f" {words[phrase]} ")

    def swap(match: re.Match) -> str:
        word = match.group(0)
        return words.get(word, words.get(word.rstrip("."), word))

    low = re.sub(r"[^\W\d_]+'?[^\W\d_]*\.?", swap, low)
    m = _AGO_PREFIX_RE.search(low)
    if m:
        low = low[:m.start()] + m.group(1) + " ago"
    return " ".join(low.split())
