"""Classifiers are pure functions: sentiment labels, product tagging, language."""

from __future__ import annotations

from listener.config import Product
from models.classify import classify, post_text
from models.language import detect_language
from models.products import compile_products, match_products
from models.sentiment import label
from models.vader import vader_compound

PRODUCTS = compile_products([
    Product("Firefox", ("Firefox", "Mozilla Firefox"), ("Firefox OS",), True),
    Product("Go", ("Go", "golang"), ("go to", "let go")),
    Product("Apple", ("Apple",), ("apple pie",)),
])


def names(text):
    return [(m.product, m.alias) for m in match_products(text, PRODUCTS)]


def test_whole_words_case_insensitive():
    assert names("I switched to FIREFOX yesterday") == [("Firefox", "FIREFOX")]
    assert names("Firefoxes are cute") == []
    assert names("Golang and go are fine") == [("Go", "Golang")]
    assert names("this is a good day") == []


def test_exclude_terms_mask_only_their_span():
    assert names("Firefox OS is dead") == []
    assert names("Firefox OS is dead, long live Firefox") == [("Firefox", "Firefox")]
    assert names("we had apple pie") == []
    assert names("let go of the past") == []


def test_several_products_in_one_post_and_multiword_alias():
    assert names("Mozilla  Firefox vs Apple's new browser") == [("Firefox", "Mozilla  Firefox"), ("Apple", "Apple")]


def test_vader_labels_with_standard_thresholds():
    assert label(0.05) == "positive" and label(0.049) == "neutral" and label(-0.05) == "negative"
    assert vader_compound("I love this, it is wonderful!") > 0.5
    assert vader_compound("This is terrible and I hate it.") < -0.5
    assert vader_compound("") == 0.0


def test_classify_post():
    c = classify(7, "Firefox 200 released", "It is great, fast and I love it", products=PRODUCTS)
    assert c.post_id == 7 and c.label == "positive" and c.sentiment > 0.5
    assert [m.product for m in c.mentions] == ["Firefox"]
    assert c.language == "en"
    c = classify(8, None, "Firefox crashes all the time, awful", products=PRODUCTS, language="de")
    assert c.label == "negative" and c.language == "de"


def test_post_text_joins_title_and_body():
    assert post_text("Title", "Body") == "Title.\nBody"
    assert post_text("Title?", "Body") == "Title?\nBody"
    assert post_text("Same", "Same and more") == "Same and more"
    assert post_text(None, None) == ""


def test_language():
    assert detect_language("Серебряков - об эмиграции, детях и законе подлецов") == "ru"
    assert detect_language("short") is None


def test_classify_batch_judges_each_mention_aligned_with_mentions():
    from models.classify import classify_batch

    rows = [{"id": 1, "title": None, "text": "Firefox is great. Apple keeps crashing, awful."},
            {"id": 2, "title": None, "text": "No product here, just a lovely day."},
            {"id": 3, "title": None, "text": "Firefox ist schlecht und stürzt ständig ab, furchtbar.",
             "language": "de"},
            {"id": 4, "title": "Firefox 200 released", "text": "Notes at the usual place."}]
    a, b, c, d = classify_batch(rows, products=PRODUCTS)
    assert [m.product for m in a.mention_sentiment] == [m.product for m in a.mentions] == ["Firefox", "Apple"]
    assert [(m.label, m.basis) for m in a.mention_sentiment] == [("positive", "sentence"), ("negative", "sentence")]
    assert a.mention_sentiment[0].span == "Firefox is great."
    assert b.mentions == () == b.mention_sentiment and b.label == "positive"   # no product: post level only
    assert c.label == "unscored" and [(m.label, m.score) for m in c.mention_sentiment] == [("unscored", None)]
    assert [(m.label, m.basis) for m in d.mention_sentiment] == [(d.label, "post")]
