#!/usr/bin/python3
"""Load a gradscope HTML report in headless Chromium and check what a
reader would see.

    test_report_browser.py REPORT.html --expect ID,ID,... [--charts ID,...]
                           [--screenshot OUT.png] [--rects OUT.json] [--width PX]

Through chromium-driver and Selenium: the page loads from file:// with no
SEVERE entry in the browser console (a script error, a resource that fails
to load); a full-page screenshot is taken (Chrome DevTools'
Page.captureScreenshot beyond the viewport); every element of --expect
exists, has a non-zero size, and its region of the screenshot is not blank
(standard deviation of the grey levels above MIN_STD: a chart or text, not
an empty box); every element of --charts holds an <svg> of at least 50 x
50 px whose own region is not blank either.
Exit 0 when all hold, 1 otherwise, 77 when chromium or chromedriver is
missing (CTest's SKIP_RETURN_CODE).
"""
import argparse
import base64
import io
import json
import os
import sys

CHROMIUM = os.environ.get("GRADSCOPE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("GRADSCOPE_CHROMEDRIVER", "/usr/bin/chromedriver")
# Grey-level standard deviation (0..255) below which a region counts as
# blank: an empty white box is 0, a box of one line of text is above 10, a
# chart well above 20.
MIN_STD = 8.0


def skip(why):
    print("SKIP: %s" % why)
    sys.exit(77)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("html")
    ap.add_argument("--expect", default="", help="ids of elements that must show something")
    ap.add_argument("--charts", default="", help="ids of elements that must hold an <svg>")
    ap.add_argument("--screenshot", help="write the full-page screenshot here")
    ap.add_argument("--width", type=int, default=1100)
    ap.add_argument("--rects", help="write {id: [x, y, width, height]} of the --expect elements here (JSON)")
    a = ap.parse_args()
    for p in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.isfile(p) and os.access(p, os.X_OK)):
            skip("%s is missing (Debian: apt-get install chromium chromium-driver)" % p)
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.by import By
    except ImportError:
        skip("python3-selenium is missing")
    from matplotlib import image as mpimg

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--force-device-scale-factor=1", "--window-size=%d,900" % a.width):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    fails = []
    try:
        driver.get("file://" + os.path.abspath(a.html))
        state = driver.execute_script("return document.readyState")
        if state != "complete":
            fails.append("document.readyState is %s" % state)
        for e in driver.get_log("browser"):
            print("console %s: %s" % (e.get("level"), e.get("message")))
            if e.get("level") == "SEVERE":
                fails.append("console error: %s" % e.get("message"))
        w, h = driver.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": w, "height": h, "scale": 1}})
        png = base64.b64decode(shot["data"])
        if a.screenshot:
            with open(a.screenshot, "wb") as f:
                f.write(png)
        img = mpimg.imread(io.BytesIO(png), format="png")       # (H, W, 3 or 4), floats in 0..1
        grey = img[:, :, :3].mean(axis=2) * 255.0
        print("page %d x %d, screenshot %d x %d" % (w, h, grey.shape[1], grey.shape[0]))

        def rect(el):
            return driver.execute_script(
                "const r = arguments[0].getBoundingClientRect();"
                "return [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height];", el)

        rects = {}
        for fid in [x for x in a.expect.split(",") if x]:
            els = driver.find_elements(By.ID, fid)
            if not els:
                fails.append("#%s is not in the page" % fid)
                continue
            x, y, rw, rh = rects[fid] = rect(els[0])
            if rw < 1 or rh < 1:
                fails.append("#%s has no size (%g x %g)" % (fid, rw, rh))
                continue
            region = grey[int(y):int(y + rh), int(x):int(x + rw)]
            std = float(region.std()) if region.size else 0.0
            print("#%s: %d x %d at (%d, %d), grey std %.1f" % (fid, rw, rh, x, y, std))
            if std < MIN_STD:
                fails.append("#%s is blank in the screenshot (grey std %.1f < %g)" % (fid, std, MIN_STD))
        if a.rects:
            with open(a.rects, "w") as f:
                json.dump(rects, f)
        for fid in [x for x in a.charts.split(",") if x]:
            svgs = driver.find_elements(By.CSS_SELECTOR, "#%s svg" % fid)
            if not svgs:
                fails.append("#%s holds no chart (<svg>)" % fid)
                continue
            x, y, rw, rh = rect(svgs[0])
            if rw < 50 or rh < 50:
                fails.append("#%s's chart is %g x %g px" % (fid, rw, rh))
                continue
            # the chart itself, without the caption around it, must show something
            region = grey[int(y):int(y + rh), int(x):int(x + rw)]
            std = float(region.std()) if region.size else 0.0
            print("#%s svg: %d x %d, grey std %.1f" % (fid, rw, rh, std))
            if std < MIN_STD:
                fails.append("#%s's chart is blank in the screenshot (grey std %.1f < %g)" % (fid, std, MIN_STD))
    finally:
        driver.quit()
    for f in fails:
        print("FAIL: %s" % f)
    print("browser checks: %s" % ("%d failed" % len(fails) if fails else "all passed"))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
