"""Scrapy spiders. They fetch and parse, then yield items; they never touch the database."""
